from django.apps import AppConfig


class EscrowConfig(AppConfig):
    name = "escrow"
    verbose_name = "Escrow"

    def ready(self) -> None:
        from cases import events
        from escrow.services import carries_instructions, on_case_event

        # Instructions written beside a case event are sent when the event is dispatched.
        events.subscribe(on_case_event, wants=carries_instructions)
