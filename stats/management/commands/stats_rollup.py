"""`manage.py stats_rollup [--rebuild] [--from DATE --to DATE]`: the statistics rollup pass
without Celery. Plain: what the periodic task does (unbuilt and stale closed days). --rebuild:
everything from scratch, or with --from/--to those days again (after importing, editing or
deleting cases by SQL, which no event reports)."""

import time
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from stats.rollup import last_closed_day, rollup_rebuild, rollup_refresh


class Command(BaseCommand):
    help = "Build the statistics rollup (days missing or stale; --rebuild for all again)."

    def add_arguments(self, parser):
        parser.add_argument("--rebuild", action="store_true", help="rebuild, not only stale days")
        parser.add_argument("--from", dest="date_from", type=date.fromisoformat, help="YYYY-MM-DD")
        parser.add_argument("--to", dest="date_to", type=date.fromisoformat, help="YYYY-MM-DD")

    def handle(self, *args, **opts):
        d0, d1 = opts["date_from"], opts["date_to"]
        if d0 and d1 and d1 < d0:
            raise CommandError("--to is before --from")
        t0 = time.monotonic()
        built = rollup_rebuild(d0, d1) if opts["rebuild"] or d0 or d1 else rollup_refresh()
        self.stdout.write(f"stats rollup: {built} day(s) built up to {last_closed_day()} "
                          f"in {time.monotonic() - t0:.1f}s")
