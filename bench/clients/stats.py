"""Stats client (separate process): calls web.stats.stats_summary for each period in the spec,
`repeat` times each, and prints one BENCHJSON line with every call's duration in ms and the
number of queries one call runs."""

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
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from web.stats import stats_summary

    out = {}
    for name, (d0, d1, mkt) in spec["periods"].items():
        times = []
        kw = {"date_from": date.fromisoformat(d0), "date_to": date.fromisoformat(d1), "marketplace": mkt}
        for _ in range(spec["repeat"]):
            t0 = time.perf_counter()
            summary = stats_summary(**kw)
            times.append(round((time.perf_counter() - t0) * 1000, 1))
        with CaptureQueriesContext(connection) as queries:
            stats_summary(**kw)
        out[name] = {"ms": times, "filed": summary["totals"]["filed"], "queries": len(queries)}
    print("BENCHJSON " + json.dumps(out))


if __name__ == "__main__":
    main()
