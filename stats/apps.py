from django.apps import AppConfig


class StatsConfig(AppConfig):
    name = "stats"
    verbose_name = "Statistics rollup"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from cases import events
        from stats.rollup import changes_a_filed_case, on_case_event

        # A case changing after its day was rolled up makes that day stale (read live).
        events.subscribe(on_case_event, wants=changes_a_filed_case)
