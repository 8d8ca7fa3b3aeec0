"""Stats client (separate process): calls web.stats.stats_summary for each period in the spec,
`repeat` times each, and prints one BENCHJSON line with every call's duration in ms."""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import date

import django


def main() -> None:
    spec = json.loads(sys.stdin.read())
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    django.setup()
    from web.stats import stats_summary

    out = {}
    for name, (d0, d1, mkt) in spec["periods"].items():
        times = []
        for _ in range(spec["repeat"]):
            t0 = time.perf_counter()
            summary = stats_summary(date_from=date.fromisoformat(d0), date_to=date.fromisoformat(d1),
                                    marketplace=mkt)
            times.append(round((time.perf_counter() - t0) * 1000, 1))
        out[name] = {"ms": times, "filed": summary["totals"]["filed"]}
    print("BENCHJSON " + json.dumps(out))


if __name__ == "__main__":
    main()
