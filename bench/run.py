"""`python -m bench.run [--quick] [--only NAME …]`: start what each figure needs, drive real
clients in separate processes, print one table and write it to bench/results/."""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime

from bench import env as bench_env
from bench import procs, results, servers
from bench.results import Row, not_measured

SCENARIOS = ["filing", "transitions", "chat", "escrow", "stats"]
TARGETS = {
    "filing": "≥200/s, p99≤300ms, ≥0.5×bare",
    "transitions": "≥300/s; 0 lost, 0 illegal",
    "chat": "500 msg/s, p99≤250ms, 0 gaps",
    "escrow": "0 lost, 0 twice, drain ≥100/s",
    "stats": "p95 ≤1 s over 1,000,000 cases",
}


@dataclass
class Context:
    env: dict
    quick: bool
    seconds: int
    cast: object = None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10 s per figure instead of 60 s")
    parser.add_argument("--only", action="append", choices=SCENARIOS,
                        help="run only this figure (repeatable)")
    parser.add_argument("--seconds", type=int, help="override the duration of each load phase")
    parser.add_argument("--reset-db", action="store_true",
                        help="drop and recreate the bench database (odr_bench*) first")
    args = parser.parse_args(argv)

    started = datetime.now(UTC)
    env = bench_env.configure(reset_db=args.reset_db)
    if not servers.have_wrk():
        print("bench: wrk is needed for the HTTP figures (apt-get install -y wrk)", file=sys.stderr)
        return 2
    print(f"bench: DATABASE_URL={env['DATABASE_URL']} REDIS_URL={env['REDIS_URL']}", flush=True)
    bench_env.setup_django(migrate=True)
    from bench import data

    ctx = Context(env=env, quick=args.quick, seconds=args.seconds or (10 if args.quick else 60))
    ctx.cast = data.cast()
    rows: list[Row] = []
    for name in args.only or SCENARIOS:
        print(f"bench: {name} …", flush=True)
        t0 = time.monotonic()
        try:
            module = __import__(f"bench.scenarios.{name}", fromlist=["run"])
            rows += module.run(ctx)
        except Exception as exc:  # one broken figure must not hide the others
            traceback.print_exc()
            rows.append(not_measured(name, TARGETS[name], f"{type(exc).__name__}: {exc}"))
        finally:
            procs.stop_all()
        print(f"bench: {name} done in {time.monotonic() - t0:.0f}s", flush=True)
    print()
    print(results.table(rows))
    path = results.write(rows, quick=args.quick, started=started,
                         extra={"seconds": ctx.seconds, "database_url": env["DATABASE_URL"],
                                "redis_url": env["REDIS_URL"]})
    print(f"\nbench: wrote {path} and latest.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
