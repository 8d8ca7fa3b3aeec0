"""Workflow transitions through the HTTP API on the recommended server:
1. throughput across 10,000 cases — sellers offer, buyers counter-offer, alternately, each case
   in order (wrk replays the rounds so a case's requests stay in order);
2. one hot case, 100 concurrent actors (50 seller staff offering, the buyer counter-offering on
   50 connections) — every success must be exactly one timeline entry and one offer, and the
   timeline must be a legal chain: 0 lost updates, 0 illegal states."""

from __future__ import annotations

import json
import os
import subprocess
import time

from django.db import connection

from bench import data, httpload, procs, servers
from bench.results import Row

CONNECTIONS = 16
WARMUP_S = 4
TARGET = "≥300/s"
OFFER = {"remedy": "partial_refund", "amount": 100_000, "note": "Hoàn 100.000 ₫ (bench)"}
COUNTER = {"remedy": "partial_refund", "amount": 300_000, "note": "Xin 300.000 ₫ (bench)"}
LEGAL = {("make_offer", "awaiting_seller", "awaiting_buyer"),
         ("counter_offer", "awaiting_buyer", "awaiting_seller")}


def _rounds(cases, rounds: int):
    rows = []
    for r in range(rounds):
        for pk, seller_tok, buyer_tok in cases:
            if r % 2 == 0:
                rows.append(("POST", f"/api/v1/cases/{pk}/offer/", seller_tok, OFFER))
            else:
                rows.append(("POST", f"/api/v1/cases/{pk}/counter-offer/", buyer_tok, COUNTER))
    return rows


def audit(case_ids: list[int]) -> dict:
    """Timeline chain per case: each entry starts where the previous ended, each transition is
    legal, the case's state is where its last entry ended, offers match successes."""
    with connection.cursor() as cur:
        cur.execute("""
            WITH t AS (
              SELECT case_id, action, from_state, to_state,
                     LAG(to_state) OVER (PARTITION BY case_id ORDER BY id) AS prev,
                     ROW_NUMBER() OVER (PARTITION BY case_id ORDER BY id DESC) AS rn
              FROM cases_timelineentry WHERE case_id = ANY(%s))
            SELECT
              COUNT(*) FILTER (WHERE action IN ('make_offer', 'counter_offer')),
              COUNT(*) FILTER (WHERE COALESCE(prev, 'awaiting_seller') <> from_state),
              (SELECT COUNT(*) FROM t JOIN cases_case c ON c.id = t.case_id
                WHERE t.rn = 1 AND c.state <> t.to_state),
              array_agg(DISTINCT action || ':' || from_state || ':' || to_state)
            FROM t""", [case_ids])
        entries, breaks, state_mismatch, kinds = cur.fetchone()
        cur.execute("SELECT COUNT(*), COUNT(*) FILTER (WHERE status = 'open') FROM cases_offer "
                    "WHERE case_id = ANY(%s)", [case_ids])
        offers, open_offers = cur.fetchone()
        cur.execute("SELECT COUNT(*) FROM cases_case WHERE id = ANY(%s) AND state NOT IN "
                    "('awaiting_seller', 'awaiting_buyer')", [case_ids])
        (bad_state,) = cur.fetchone()
    illegal_kinds = [k for k in (kinds or []) if tuple(k.split(":")) not in LEGAL]
    return {"entries": entries, "chain_breaks": breaks, "state_mismatch": state_mismatch,
            "illegal_transitions": illegal_kinds, "offers": offers, "open_offers": open_offers,
            "cases_in_unexpected_state": bad_state}


def settle(case_ids: list[int], quiet_s: float = 1.5, limit_s: float = 60) -> None:
    """Wait until no timeline entry has been added to these cases for `quiet_s`."""
    with connection.cursor() as cur:
        last, since, t0 = None, time.monotonic(), time.monotonic()
        while time.monotonic() - t0 < limit_s:
            cur.execute("SELECT COUNT(*) FROM cases_timelineentry WHERE case_id = ANY(%s)",
                        [case_ids])
            (n,) = cur.fetchone()
            if n != last:
                last, since = n, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                return
            time.sleep(0.25)


def run(ctx) -> list[Row]:
    rows: list[Row] = []
    cases = data.transition_cases(ctx.cast)
    hot = data.hot_case(ctx.cast)
    case_ids = [pk for pk, _, _ in cases]
    req = httpload.write_requests(_rounds(cases, rounds=2 if ctx.quick else 6))
    try:
        with servers.Server(servers.WSGI, ctx.env) as srv:
            print(f"  transitions on {srv.model.label} at {srv.url}", flush=True)
            _warm(srv, hot)
            load = httpload.wrk(srv.url, req, seconds=ctx.seconds, connections=CONNECTIONS,
                                monitor_pids=[srv.pid], name="transitions")
            settle(case_ids)  # requests wrk left in flight still commit: count them too
            a = audit(case_ids)
            illegal = (a["chain_breaks"] + a["state_mismatch"] + len(a["illegal_transitions"])
                       + a["cases_in_unexpected_state"])
            # wrk stops with up to CONNECTIONS requests in flight, whose answers it never counts
            # but which the server still commits: entries may exceed the 2xx seen by that many.
            lost = a["entries"] < load.ok or a["entries"] > load.ok + CONNECTIONS
            rows.append(Row(
                figure="transitions · 10,000 cases (offer / counter-offer)",
                value=f"{load.rate:.0f}/s, p50 {load.p50_ms:.0f} ms, p99 {load.p99_ms:.0f} ms",
                target=f"{TARGET}; 0 lost, 0 illegal", cpu_pct=load.cpu_pct,
                peak_rss_mb=load.peak_rss_mb,
                ok=load.rate >= 300 and illegal == 0 and not lost and load.errors == 0,
                notes=(f"{srv.model.label}, {CONNECTIONS} connections, {ctx.seconds}s; "
                       f"{load.ok} 2xx, {load.errors} errors; {a['entries']} timeline entries; "
                       f"illegal {illegal}"),
                data={"load": vars(load), "audit": a}))

            spec = {"base": srv.url, "case_id": hot.case_id, "seconds": min(ctx.seconds, 20),
                    "seller_tokens": hot.seller_tokens, "buyer_token": hot.buyer_token}
            mon = procs.Monitor([srv.pid]).start()
            out = subprocess.run([procs.PYTHON, "-m", "bench.clients.hot"], input=json.dumps(spec),
                                 capture_output=True, text=True, cwd=procs.ROOT,
                                 env={**ctx.env, "PYTHONPATH": str(procs.ROOT)},
                                 timeout=spec["seconds"] + 120)
            usage = mon.stop()
        line = next((x for x in out.stdout.splitlines() if x.startswith("BENCHJSON ")), None)
        if line is None:
            raise RuntimeError(f"hot client failed: {out.stderr[-800:]}")
        res = json.loads(line.removeprefix("BENCHJSON "))
        h = audit([hot.case_id])
        wins = sum(v for k, v in res["codes"].items() if k.endswith(":200"))
        other = {k: v for k, v in res["codes"].items()
                 if not (k.endswith(":200") or k.endswith(":409"))}
        lost = abs(h["entries"] - wins) + abs(h["offers"] - wins)
        illegal = (h["chain_breaks"] + h["state_mismatch"] + len(h["illegal_transitions"])
                   + h["cases_in_unexpected_state"] + max(0, h["open_offers"] - 1))
        rows.append(Row(
            figure="transitions · 1 hot case, 100 concurrent actors",
            value=(f"{wins} applied / {res['requests']} tried ({wins / spec['seconds']:.0f}/s); "
                   f"lost {lost}, illegal {illegal}"),
            target="0 lost updates, 0 illegal states", cpu_pct=usage.cpu_pct,
            peak_rss_mb=usage.peak_rss_mb, ok=lost == 0 and illegal == 0 and not other,
            notes=(f"codes {res['codes']}; p50 {res['p50_ms']} ms, p99 {res['p99_ms']} ms; "
                   f"{h['entries']} timeline entries, {h['offers']} offers "
                   f"({h['open_offers']} open)"),
            data={"client": res, "audit": h}))
        rows.extend(relay_drains(ctx.env, limit_s=8 if ctx.quick else 60))
        rows.append(with_relays(ctx, hot, req))
    finally:
        os.unlink(req)
    return rows


def _warm(srv, hot) -> None:
    """Warm every worker through the whole transition path (first requests import and connect
    lazily) on the hot case, then put it back."""
    warm = httpload.write_requests(_rounds([(hot.case_id, hot.seller_tokens[0], hot.buyer_token)],
                                           rounds=400))
    try:
        httpload.warm(srv.url, warm, connections=CONNECTIONS, monitor_pids=[srv.pid], min_ok=20,
                      min_seconds=WARMUP_S)
    finally:
        os.unlink(warm)
    settle([hot.case_id])
    data.reset_cases([hot.case_id])


def with_relays(ctx, hot, req: str) -> Row:
    """The sustained picture: the same offer / counter-offer replay on fresh cases, with two
    partitioned relays running beside the web server on the same cores (as in production).
    Events made = timeline entries written in the window; relayed = those plus what was
    pending at the start, minus what is pending at the end. With the web side flat out the
    relays get the CPU that is left, so the rate the whole system sustains lies between the
    relayed rate and the answered rate."""
    from cases.models import PendingEvent, TimelineEntry

    case_ids = [pk for pk, _, _ in data.transition_cases(ctx.cast)]  # reset, and their events
    relays = _spawn_relays(ctx.env, 2)
    try:
        with servers.Server(servers.WSGI, ctx.env) as srv:
            print(f"  transitions with 2 relays on {srv.model.label} at {srv.url}", flush=True)
            _warm(srv, hot)
            pending0 = PendingEvent.objects.count()
            load = httpload.wrk(srv.url, req, seconds=ctx.seconds, connections=CONNECTIONS,
                                monitor_pids=[srv.pid, *(r.pid for r in relays)],
                                name="transitions+relays")
            made = TimelineEntry.objects.filter(case_id__in=case_ids).count()
            pending1 = PendingEvent.objects.count()
    finally:
        for relay in relays:
            procs.release(relay)
    relayed = pending0 + made - pending1
    seconds = load.raw.get("duration_us", ctx.seconds * 1e6) / 1e6
    return Row(
        figure="transitions · with 2 partitioned relays beside the server",
        value=(f"{load.rate:.0f}/s answered, {relayed / seconds:.0f} events/s relayed; "
               f"backlog {pending1 - pending0:+d} in {seconds:.0f} s"),
        cpu_pct=load.cpu_pct, peak_rss_mb=load.peak_rss_mb,
        notes=(f"{srv.model.label} + 2 × relay_case_events --partition i/2, {CONNECTIONS} "
               f"connections; p99 {load.p99_ms:.0f} ms; {load.errors} errors; CPU and RSS: the "
               f"server and both relays"),
        data={"load": vars(load), "made": made, "pending_start": pending0,
              "pending_end": pending1, "relayed": relayed, "seconds": round(seconds, 1)})


RELAY_FIGURE = "transitions · case events relayed"


def _spawn_relays(env: dict, n: int) -> list:
    """`n` relay processes, partitioned when several."""
    partitions = [[] if n == 1 else ["--partition", f"{i}/{n}"] for i in range(n)]
    return [procs.spawn([procs.PYTHON, "manage.py", "relay_case_events", *extra], env=env,
                        name=f"relay{i}") for i, extra in enumerate(partitions)]


def relay_drains(env: dict, limit_s: float) -> list[Row]:
    """The background side of those transitions, with the web server stopped: the case events
    the phases above left in the outbox (chat system lines, notifications, statistics),
    dispatched by one `relay_case_events` process, then by two partitioned ones (0/2, 1/2).
    Oldest first, and `limit_s` is short enough that both see the same kind of event: the
    filings' in a full run (a notification to the shop, the hold's delivery started, the
    case's first chat line), the offers and counter-offers in a quick one (one recipient
    each); never the hot case's last events (50 recipients each, several times the work)."""
    return [relay_drain(env, limit_s, relays=1), relay_drain(env, limit_s, relays=2)]


def relay_drain(env: dict, limit_s: float, relays: int) -> Row:
    """Events per second dispatched by `relays` relay processes (partitioned when several),
    from their first dispatch until the outbox is empty or `limit_s` passed."""
    from cases.models import PendingEvent

    figure = f"{RELAY_FIGURE} ({relays} relay process{'es, partitioned' if relays > 1 else ''})"
    pending = PendingEvent.objects.count()
    if not pending:
        return Row(figure=figure, value="nothing pending", notes="no case event was left to relay")
    procs_ = _spawn_relays(env, relays)
    try:
        deadline = time.monotonic() + 60
        while (left := PendingEvent.objects.count()) == pending and time.monotonic() < deadline:
            time.sleep(0.05)  # the relays are starting
        mon = procs.Monitor([p.pid for p in procs_]).start()
        t0, start = time.monotonic(), left
        while left and time.monotonic() - t0 < limit_s:
            time.sleep(0.25)
            left = PendingEvent.objects.count()
        elapsed = time.monotonic() - t0
        usage = mon.stop()
    finally:
        for proc in procs_:
            procs.release(proc)
    rate = (start - left) / elapsed if elapsed else 0.0
    return Row(
        figure=figure,
        value=f"{rate:.0f} events/s, {start - left} of {pending} dispatched",
        cpu_pct=usage.cpu_pct, peak_rss_mb=usage.peak_rss_mb,
        notes=(f"after the phases above, web server stopped; {left} left after "
               f"{elapsed:.0f} s; subscribers: chat system line, notifications, statistics"),
        data={"relays": relays, "pending": pending, "left": left, "seconds": round(elapsed, 1),
              "rate": round(rate, 1)})
