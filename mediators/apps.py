from django.apps import AppConfig


class MediatorsConfig(AppConfig):
    name = "mediators"
    verbose_name = "Mediators and supervisors"

    def ready(self) -> None:
        from cases.events import subscribe
        from mediators.services import concerns_mediators, on_case_event

        subscribe(on_case_event, wants=concerns_mediators)
