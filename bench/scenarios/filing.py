"""Case filings through the HTTP API (authenticated buyers, evidence-free) against the bare DRF
baseline (one INSERT, no auth) on the same server in the same run, for each serving model."""

from __future__ import annotations

import os

from bench import data, httpload, servers
from bench.results import Row

CONNECTIONS = 16
WARMUP_S = 2
WARM_FILINGS = 40  # ≥ 10 per gunicorn worker before measuring
TARGET = "≥200/s, p99≤300ms, ≥0.5×bare"
# Requests prepared per second of run: above what either model reaches here, so no order is
# filed twice (wrk wraps around and reports it if a run goes faster).
CAPACITY = {"wsgi": 900, "asgi1": 500}


def _filing_requests(pairs):
    return [("POST", "/api/v1/cases/", token,
             {"order": order_id, "reason": "damaged", "desired_outcome": "full_refund",
              "claimed_amount": 450_000, "description": "Hộp chè bị móp, gói bên trong rách.",
              "language": "vi"})
            for token, order_id in pairs]


def _baseline_requests(n):
    return [("POST", "/bench/baseline/", "-", {"note": f"bench {i}", "amount": i})
            for i in range(n)]


def run(ctx) -> list[Row]:
    from cases.models import Case

    seconds = ctx.seconds
    rows: list[Row] = []
    models = [servers.WSGI, servers.ASGI_SINGLE]
    for model in models:
        need = CAPACITY[model.name] * (seconds + WARMUP_S)
        pairs = data.filing_orders(ctx.cast, need)
        warm_file = httpload.write_requests(_filing_requests(pairs[: need // 10]))
        file_file = httpload.write_requests(_filing_requests(pairs[need // 10:]))
        base_file = httpload.write_requests(_baseline_requests(20_000))
        try:
            with servers.Server(model, ctx.env) as srv:
                print(f"  filing on {model.label} at {srv.url}", flush=True)
                httpload.warm(srv.url, base_file, connections=CONNECTIONS, monitor_pids=[srv.pid],
                              min_ok=100)
                httpload.warm(srv.url, warm_file, connections=CONNECTIONS, monitor_pids=[srv.pid],
                              min_ok=WARM_FILINGS)
                base = httpload.wrk(srv.url, base_file, seconds=seconds, connections=CONNECTIONS,
                                    monitor_pids=[srv.pid], name="baseline")
                before = Case.objects.filter(order_id__in=[o for _, o in pairs]).count()
                filing = httpload.wrk(srv.url, file_file, seconds=seconds, connections=CONNECTIONS,
                                      monitor_pids=[srv.pid], name="filing")
            after = Case.objects.filter(order_id__in=[o for _, o in pairs]).count()
        finally:
            for f in (warm_file, file_file, base_file):
                os.unlink(f)
        ratio = round(filing.rate / base.rate, 2) if base.rate else None
        ok = filing.rate >= 200 and filing.p99_ms <= 300 and (ratio or 0) >= 0.5 \
            and filing.errors == 0
        notes = (f"{CONNECTIONS} connections, {seconds}s; {filing.errors} errors; cases created "
                 f"server-side {after - before} vs {filing.ok} 2xx seen")
        if filing.raw.get("wrapped"):
            notes += f"; request file wrapped {filing.raw['wrapped']}x (409s expected)"
        rows.append(Row(
            figure=f"filing · {model.label}",
            value=f"{filing.rate:.0f}/s, p50 {filing.p50_ms:.0f} ms, p99 {filing.p99_ms:.0f} ms",
            target=TARGET, baseline=f"bare DRF {base.rate:.0f}/s, p99 {base.p99_ms:.0f} ms",
            ratio=ratio, cpu_pct=filing.cpu_pct, peak_rss_mb=filing.peak_rss_mb, ok=ok,
            notes=notes, data={"filing": vars(filing), "baseline": vars(base),
                               "model": model.name}))
        rows.append(Row(
            figure=f"bare DRF insert · {model.label}",
            value=f"{base.rate:.0f}/s, p50 {base.p50_ms:.0f} ms, p99 {base.p99_ms:.0f} ms",
            cpu_pct=base.cpu_pct, peak_rss_mb=base.peak_rss_mb,
            notes=f"baseline; {base.errors} errors" if base.errors else "",
            data={"baseline": vars(base), "model": model.name}))
    return rows
