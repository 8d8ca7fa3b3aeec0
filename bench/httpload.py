"""HTTP load with wrk (C, closed loop: N connections each send the next request as soon as the
previous one answers) replaying a prepared request file; the server's CPU and peak RSS are
sampled over the same window."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bench import procs

LUA = Path(__file__).with_name("replay.lua")
THREADS = 2


@dataclass
class Load:
    rate: float
    ok: int
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    cpu_pct: float
    peak_rss_mb: float
    raw: dict = field(default_factory=dict)


def write_requests(rows: list[tuple[str, str, str, dict | str]]) -> str:
    """rows: (method, path, token or "-", body). Returns the file's path."""
    fd, path = tempfile.mkstemp(prefix="bench-req-", suffix=".tsv",
                                dir=os.environ.get("ODR_VAR_DIR"))
    with os.fdopen(fd, "w") as f:
        for method, p, token, body in rows:
            text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
            f.write(f"{method}\t{p}\t{token}\t{text}\n")
    return path


def wrk(url: str, requests_file: str, *, seconds: int, connections: int, monitor_pids: list[int],
        name: str) -> Load:
    args = ["wrk", f"-t{THREADS}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
            "-s", str(LUA), url, "--", requests_file, str(THREADS)]
    mon = procs.Monitor(monitor_pids).start()
    out = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60)
    usage = mon.stop()
    line = next((x for x in out.stdout.splitlines() if x.startswith("BENCHJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk ({name}) printed no result: {out.stdout[-500:]} {out.stderr[-500:]}")
    raw = json.loads(line.removeprefix("BENCHJSON "))
    errors = (raw["non2xx"] + raw["connect_err"] + raw["read_err"] + raw["write_err"]
              + raw["timeouts"])
    ok = raw["requests"] - raw["non2xx"]
    secs = raw["duration_us"] / 1e6
    return Load(rate=round(ok / secs, 1), ok=ok, errors=errors, p50_ms=raw["p50_ms"],
                p90_ms=raw["p90_ms"], p99_ms=raw["p99_ms"], max_ms=raw["max_ms"],
                cpu_pct=usage.cpu_pct, peak_rss_mb=usage.peak_rss_mb, raw=raw)


def warm(url: str, requests_file: str, *, connections: int, monitor_pids: list[int],
         min_ok: int, min_seconds: int = 2, max_seconds: int = 40) -> int:
    """Warm a server up until it has answered `min_ok` requests with 2xx (each worker process
    pays its lazy imports and first connections once: on a busy machine a fixed 2 s is not
    enough for four workers). Returns the 2xx count."""
    ok, spent = 0, 0
    while spent < max_seconds and (ok < min_ok or spent < min_seconds):
        step = min_seconds if spent == 0 else 3
        ok += wrk(url, requests_file, seconds=step, connections=connections,
                  monitor_pids=monitor_pids, name="warm-up").ok
        spent += step
    return ok
