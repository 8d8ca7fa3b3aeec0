"""Escrow delivery: N hold instructions (10,000; quick 2,000) to the partner simulator answering
503 to 20 % of requests, delivered by two `manage.py escrow_deliver --loop` worker processes,
one of which is killed with SIGKILL a third of the way through and replaced.

Verified against both ledgers: every instruction confirmed in odr and applied exactly once in
the simulator's applications log (0 lost, 0 applied twice), each payment held once. Drain rate =
N / time from start until the last one is confirmed. The notes split that time: when 10/50/90/
99 % were confirmed, the rate between 10 % and 90 % (delivery capacity, before the retry
policy's tail), CPU per instruction of the workers and of the simulator, and the machine's load.
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from bench import data, procs
from bench.results import Row

LEASE_S = 10  # a killed worker's claimed rows are re-sent after this (production: 48 s)
READ_TIMEOUT_S = 5
CONCURRENCY = 8
SECRET = "bench-secret"


def _instructions(cast, n: int) -> list[str]:
    from cases.models import Case, Payment
    from escrow.models import DeliveryAttempt, EscrowInstruction

    qs = Case.objects.filter(order__external_id__startswith="BE-")
    if qs.count() < n:
        have = qs.count()
        orders = data._orders(cast, "BE", have, n - have)
        buyer_user = {b.pk: b.user_id for b in cast.buyers}
        data._bulk_cases(cast, orders, lambda o: buyer_user[o.buyer_id])
    cases = list(qs.order_by("pk").values_list("pk", "payment_id")[:n])
    case_ids = [c for c, _ in cases]
    DeliveryAttempt.objects.filter(instruction__case_id__in=case_ids).delete()
    EscrowInstruction.objects.filter(case_id__in=case_ids).delete()
    Payment.objects.filter(pk__in=[p for _, p in cases]).update(
        held_amount=0, released_amount=0, refunded_amount=0)
    # Other bench rows (filings' holds) must not compete for the workers: a fixture reset.
    EscrowInstruction.objects.filter(status__in=["pending", "accepted"]).update(status="cancelled")
    now = timezone.now()
    rows = EscrowInstruction.objects.bulk_create([
        EscrowInstruction(case_id=c, payment_id=p, partner_id=cast.pay.pk, kind="hold",
                          amount=data.AMOUNT, reason="bench hold", status="pending",
                          created_at=now, next_attempt_at=now,
                          give_up_at=now + timedelta(hours=72))
        for c, p in cases], batch_size=data.BATCH)
    return [str(r.pk) for r in rows]


def _worker(env: dict, i: int):
    return procs.spawn([procs.PYTHON, "manage.py", "escrow_deliver", "--loop", "--concurrency",
                        str(CONCURRENCY), "--lease-seconds", str(LEASE_S), "--read-timeout",
                        str(READ_TIMEOUT_S), "--idle-sleep", "0.2"], env=env, name=f"escrow-worker-{i}")


def _status_counts(ids: list[str]) -> dict:
    with connection.cursor() as cur:
        cur.execute("SELECT status, COUNT(*) FROM escrow_escrowinstruction WHERE id = ANY(%s::uuid[]) "
                    "GROUP BY status", [ids])
        return dict(cur.fetchall())


def run(ctx) -> list[Row]:
    n = 2_000 if ctx.quick else 10_000
    port = procs.free_port()
    sim = procs.spawn([procs.PYTHON, "-m", "partners.simulator", "--port", str(port), "--secret",
                       SECRET, "--mode", "sync", "--fail-rate", "0.2", "--seed", "7"],
                      env=ctx.env, name="simulator")
    procs.wait_port(port, sim)
    sim_url = f"http://127.0.0.1:{port}"
    pay = ctx.cast.pay
    pay.base_url, pay.signing_secrets = sim_url, [SECRET]
    pay.save(update_fields=["base_url", "signing_secrets"])
    ids = _instructions(ctx.cast, n)
    env = {**ctx.env, "CONN_MAX_AGE": "60"}
    print(f"  escrow: {n} instructions, simulator {sim_url} (20 % 503s), 2 workers", flush=True)
    workers = [_worker(env, 0), _worker(env, 1)]
    mon = procs.Monitor([w.pid for w in workers]).start()
    sim_cpu_before = _cpu_seconds(sim.pid)
    load_before = os.getloadavg()
    t0, started = time.monotonic(), timezone.now()
    killed_at, limit_s = None, 900
    done_at = None
    while time.monotonic() - t0 < limit_s:
        counts = _status_counts(ids)
        confirmed = counts.get("confirmed", 0)
        if killed_at is None and confirmed >= n // 3:
            os.kill(workers[0].pid, signal.SIGKILL)  # mid-batch: its leases must expire
            killed_at = (time.monotonic() - t0, confirmed)
            procs.release(workers[0])
            workers[0] = _worker(env, 2)
            mon.pids.append(workers[0].pid)
        if confirmed + counts.get("dead", 0) >= n:
            done_at = time.monotonic() - t0
            break
        time.sleep(0.5)
    usage, sim_cpu = mon.stop(), _cpu_seconds(sim.pid) - sim_cpu_before
    window = time.monotonic() - t0
    counts = _status_counts(ids)
    for w in workers:
        procs.release(w)
    with urllib.request.urlopen(f"{sim_url}/_ledger", timeout=30) as r:  # noqa: S310 - loopback
        ledger = json.loads(r.read())
    procs.release(sim)
    wanted = set(ids)
    keys = [a["key"] for a in ledger["applications"] if a["key"] in wanted]
    twice = len(keys) - len(set(keys))
    lost = n - len(set(keys))
    with connection.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM cases_payment p JOIN escrow_escrowinstruction i "
                    "ON i.payment_id = p.id WHERE i.id = ANY(%s::uuid[]) AND p.held_amount <> %s",
                    [ids, data.AMOUNT])
        (wrong_held,) = cur.fetchone()
    drain = n / done_at if done_at else None
    shape = _shape(ids, started)
    cpu_ms = {"workers": round(usage.cpu_pct * window * 10 / n, 2),
              "simulator": round(sim_cpu * 1000 / n, 2)}
    load = [round(x, 1) for x in (*load_before, *os.getloadavg())]
    ok = bool(done_at) and lost == 0 and twice == 0 and wrong_held == 0 and (drain or 0) >= 100
    value = (f"drain {drain:.0f}/s ({n} in {done_at:.0f} s)" if done_at
             else f"NOT drained in {limit_s} s: {counts}")
    return [Row(
        figure=f"escrow · {n:,} holds, 20 % 503s, worker kill -9",
        value=f"{value}; lost {lost}, applied twice {twice}, wrong held {wrong_held}",
        target="0 lost, 0 twice, drain ≥100/s", cpu_pct=usage.cpu_pct,
        peak_rss_mb=usage.peak_rss_mb, ok=ok,
        notes=(f"2 workers x {CONCURRENCY} in flight; killed one at "
               f"{killed_at[0]:.0f} s ({killed_at[1]} confirmed), lease {LEASE_S} s; backoff "
               f"base 1 s (bench setting); {_describe(shape, n)}; CPU per instruction: workers "
               f"{cpu_ms['workers']} ms, simulator {cpu_ms['simulator']} ms; load average "
               f"{load[0]} before, {load[3]} after; odr statuses {counts}; simulator counts "
               f"{ledger['counts']}; CPU/RSS = worker processes" if killed_at else
               f"worker never killed; statuses {counts}"),
        data={"counts": counts, "sim": ledger["counts"], "drain_s": done_at,
              "killed_at": killed_at, "confirmed_at_s": shape, "cpu_ms_per_instruction": cpu_ms,
              "simulator_cpu_pct": round(100 * sim_cpu / window, 1),
              "loadavg_before_after": load})]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of one process (the simulator has no children)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _shape(ids: list[str], started) -> dict:
    """Seconds from start until 10/50/90/99/100 % of the instructions were confirmed."""
    with connection.cursor() as cur:
        cur.execute("SELECT confirmed_at FROM escrow_escrowinstruction WHERE id = ANY(%s::uuid[]) "
                    "AND confirmed_at IS NOT NULL ORDER BY confirmed_at", [ids])
        seconds = [(at - started).total_seconds() for (at,) in cur.fetchall()]
    if not seconds:
        return {}
    return {str(q): round(seconds[max(0, round(q / 100 * len(ids)) - 1)], 1)
            for q in (10, 50, 90, 99, 100) if round(q / 100 * len(ids)) <= len(seconds)}


def _describe(shape: dict, n: int) -> str:
    points = ", ".join(f"{q} % at {t} s" for q, t in shape.items())
    if not {"10", "90"} <= shape.keys():
        return f"confirmed: {points}"
    rate = 0.8 * n / max(shape["90"] - shape["10"], 1e-3)
    return f"confirmed: {points} (10→90 % at {rate:.0f}/s)"
