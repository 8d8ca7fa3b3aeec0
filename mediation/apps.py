from django.apps import AppConfig


class MediationConfig(AppConfig):
    name = "mediation"
    verbose_name = "Mediation"

    def ready(self) -> None:
        from cases import events
        from mediation.services import on_case_event

        # Every timeline entry becomes a system line in the case's chat (after commit).
        events.subscribe(on_case_event)
