"""`manage.py relay_case_events`: the case-event outbox relay (cases.relay). Run one or more
beside the web servers whenever ODR_EVENTS_ASYNC is on; with it off (events dispatched inline)
it only waits, so a supervisor that starts it anyway has nothing to restart. SIGTERM stops it
once the batch in hand is done (at most `--batch` events) or its wait ends."""

import argparse
import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection

from cases.relay import ALL, Partition, relay_all, relay_forever


def _partition(text: str) -> Partition:
    try:
        return Partition.parse(text)
    except ValueError as exc:  # argparse shows this message, not "invalid value"
        raise argparse.ArgumentTypeError(str(exc)) from exc


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
        parser.add_argument("--partition", type=_partition, default=ALL, metavar="I/N",
                            help="dispatch only the cases whose id modulo N is I (run N relays, "
                                 "0/N … N-1/N, to share the work and keep each case's order)")

    def handle(self, *args, once=False, batch=100, poll=5.0, partition=ALL, **options):
        if once:
            self.stdout.write(f"relayed {relay_all(batch, partition)} case events")
            return
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
        if not getattr(settings, "ODR_EVENTS_ASYNC", False):
            self.stdout.write("ODR_EVENTS_ASYNC is off: case events are dispatched inline; "
                              "nothing to relay")
            while not stopping:
                time.sleep(1)
            return
        # The relay keeps its database session for its whole life (LISTEN needs it, so never
        # behind a transaction-pooling proxy): its hot statements are prepared once (odr.joined).
        connection.settings_dict["CONN_MAX_AGE"] = None
        relay_forever(batch=batch, poll_seconds=poll, partition=partition,
                      stop=lambda: bool(stopping))
