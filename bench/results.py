"""One row per figure: what was measured, against which target and baseline, at what cost."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).with_name("results")


@dataclass
class Row:
    figure: str
    value: str
    target: str = ""
    baseline: str = ""
    ratio: float | None = None
    cpu_pct: float | None = None
    peak_rss_mb: float | None = None
    ok: bool | None = None  # None: no target, or not measured
    notes: str = ""
    data: dict = field(default_factory=dict)


def not_measured(figure: str, target: str, reason: str) -> Row:
    return Row(figure=figure, value="not measured", target=target, notes=f"not measured: {reason}")


def table(rows: list[Row]) -> str:
    head = ["figure", "value", "target", "baseline", "ratio", "server CPU %", "peak RSS MB", "ok"]
    body = [[r.figure, r.value, r.target, r.baseline,
             "" if r.ratio is None else f"{r.ratio:.2f}",
             "" if r.cpu_pct is None else f"{r.cpu_pct:.0f}",
             "" if r.peak_rss_mb is None else f"{r.peak_rss_mb:.0f}",
             {True: "yes", False: "NO", None: "–"}[r.ok]] for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h)
              for i, h in enumerate(head)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"  # noqa: E731
    out = [line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(b) for b in body]
    notes = [f"- {r.figure}: {r.notes}" for r in rows if r.notes]
    return "\n".join(out + ([""] + notes if notes else []))


def machine() -> dict:
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {"cpus": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "loadavg_at_end": load}


def write(rows: list[Row], *, quick: bool, started: datetime, extra: dict) -> Path:
    RESULTS.mkdir(exist_ok=True)
    doc = {"started": started.isoformat(), "finished": datetime.now(UTC).isoformat(),
           "quick": quick, "machine": machine(), **extra, "rows": [asdict(r) for r in rows]}
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{stamp}{'-quick' if quick else ''}.json"
    text = json.dumps(doc, indent=2, ensure_ascii=False)
    path.write_text(text)
    (RESULTS / "latest.json").write_text(text)
    return path
