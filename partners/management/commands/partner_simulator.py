"""`manage.py partner_simulator --port 8100 --secret whsec_demo [--mode async …]`: the payment
partner simulator (partners.simulator), for `make run` and demos."""

import sys

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the payment-partner simulator (all arguments go to partners.simulator)."

    def run_from_argv(self, argv):
        from partners.simulator import main

        sys.exit(main(argv[2:]))

    def handle(self, *args, **options):  # only reached through call_command
        from partners.simulator import main

        return str(main(list(args)))
