"""`manage.py relay_case_events`: the case-event outbox relay (cases.relay). Run one or more
beside the web servers whenever ODR_EVENTS_ASYNC is on; SIGTERM stops it after the event in
hand."""

import signal

from django.core.management.base import BaseCommand

from cases.relay import relay_forever, relay_pending


class Command(BaseCommand):
    help = "Announce committed case events to their subscribers (the outbox relay)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true",
                            help="dispatch what is pending now, then exit")
        parser.add_argument("--batch", type=int, default=100,
                            help="events dispatched between two checks for a stop (default 100)")
        parser.add_argument("--poll", type=float, default=5.0,
                            help="seconds to wait when no notification comes (default 5; "
                                 "PostgreSQL wakes the relay at once with NOTIFY)")

    def handle(self, *args, once=False, batch=100, poll=5.0, **options):
        if once:
            total = 0
            while (n := relay_pending(batch)):
                total += n
            self.stdout.write(f"relayed {total} case events")
            return
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
        relay_forever(batch=batch, poll_seconds=poll, stop=lambda: bool(stopping))
