"""Settings of the benchmark servers: the product's settings plus the bench-only apps (the bare
DRF baseline endpoint) and their URL. Never used by the product itself."""

from odr.settings import *  # noqa: F403
from odr.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "bench.baseline"]
ROOT_URLCONF = "bench.urls"
# Benchmarks measure the server, not the console: no request logging noise.
DEBUG = False

# Escrow delivery, for the benchmark only: a 1 s backoff base (production: 30 s) so the drain
# figure measures delivery capacity, not the retry policy's waiting time (with 30 s the tail of
# 20 % failures is ≥ 30 + 60 + 120 s whatever the machine). Override with the env variables.
ESCROW_BACKOFF_BASE_SECONDS = float(env.str("BENCH_ESCROW_BACKOFF_BASE", default="1"))  # noqa: F405
ESCROW_BACKOFF_CAP_SECONDS = float(env.str("BENCH_ESCROW_BACKOFF_CAP", default="8"))  # noqa: F405
