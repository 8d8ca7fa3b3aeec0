"""`manage.py escrow_deliver [--loop]`: the escrow delivery loop without Celery (tests, demos,
or a dedicated worker process). Each round sends what is due, then closes settled cases."""

import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from escrow import delivery


class Command(BaseCommand):
    help = "Deliver due escrow instructions to payment partners."

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="keep running until SIGTERM/SIGINT")
        parser.add_argument("--concurrency", type=int, default=None)
        parser.add_argument("--limit", type=int, default=None, help="rows per round")
        parser.add_argument("--idle-sleep", type=float, default=1.0)
        parser.add_argument("--lease-seconds", type=float, help="override ESCROW_LEASE_SECONDS")
        parser.add_argument("--read-timeout", type=float,
                            help="override ESCROW_READ_TIMEOUT_SECONDS")

    def handle(self, *args, **opts):
        # For this process only (escrow.conf reads settings at each use).
        if opts["lease_seconds"] is not None:
            settings.ESCROW_LEASE_SECONDS = opts["lease_seconds"]
        if opts["read_timeout"] is not None:
            settings.ESCROW_READ_TIMEOUT_SECONDS = opts["read_timeout"]
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
        # One courier for the whole loop: its send threads and keep-alive connections persist.
        with delivery.Courier(opts["concurrency"]) as courier:
            while True:
                outcomes = courier.round(limit=opts["limit"])
                closed = delivery.cases_close_settled()
                if outcomes or closed:
                    self.stdout.write(f"{dict(outcomes)} closed={closed}")
                    self.stdout.flush()
                if not opts["loop"] or stopping:
                    return
                if not outcomes:
                    time.sleep(opts["idle_sleep"])
