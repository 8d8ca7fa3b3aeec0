from django.apps import AppConfig


class MediationConfig(AppConfig):
    name = "mediation"
    verbose_name = "Mediation"

    def ready(self) -> None:
        from django.db.models.signals import m2m_changed

        from cases import events
        from cases.models import Seller
        from mediation.services import on_case_event, on_shop_staff_changed

        # Every timeline entry becomes a system line in the case's chat (after commit).
        events.subscribe(on_case_event)
        # Someone removed from a shop: the sockets of that user in the shop's cases re-check.
        m2m_changed.connect(on_shop_staff_changed, sender=Seller.staff.through,
                            dispatch_uid="mediation.shop_staff")
