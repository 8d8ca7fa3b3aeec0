"""Chat: 2,000 sockets in 200 rooms of 10, clients in 4 separate processes (whole rooms per
process), messages at a fixed offered rate; latency is send → receipt at each member.

Measured in the same run, same Redis, same layout: the stock Channels tutorial consumer
(`bench/stockchat/`, no persistence) and the odr mediation chat (persist first, per-case seq,
resume with since=<seq>; 10 % of sockets are dropped and resumed mid-run: gaps must be 0)."""

from __future__ import annotations

import json
import os
import subprocess
import time

from bench import data, procs, servers
from bench.results import Row

ROOMS, PER_ROOM, PROCESSES = 200, 10, 4
TARGET_RATE = 500
TARGET = "500 msg/s, p99≤250ms, 0 gaps"


def _pct(sorted_lat: list[float], q: float) -> float | None:
    if not sorted_lat:
        return None
    return sorted_lat[min(len(sorted_lat) - 1, int(q * len(sorted_lat)))]


def wait_until_idle(min_idle: float = 0.7, limit_s: float = 90) -> float:
    """Wait until the machine is mostly idle again (share of idle CPU over 1 s, from
    /proc/stat) — after an overloaded phase the server's and PostgreSQL's backlog keeps both
    cores busy for a while, and 2,000 sockets connecting into that timed out. Returns the
    seconds waited."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        a = _cpu_times()
        time.sleep(1)
        b = _cpu_times()
        busy = [y - x for x, y in zip(a, b, strict=True)]
        if sum(busy) and (busy[3] + busy[4]) / sum(busy) >= min_idle:  # idle + iowait
            break
    return time.monotonic() - t0


def _cpu_times() -> list[int]:
    with open("/proc/stat") as f:
        return [int(x) for x in f.readline().split()[1:]]


def drive(srv: servers.Server, mode: str, rooms: list, rate: float, seconds: int,
          reconnect_share: float, attempts: int = 2) -> dict:
    """One load phase; if the clients cannot all connect, they are stopped, the machine is
    left to settle and the phase starts over once (the result records the retry)."""
    for attempt in range(1, attempts + 1):
        settled_s = wait_until_idle()
        try:
            result = _drive(srv, mode, rooms, rate, seconds, reconnect_share)
        except ConnectFailed:
            if attempt == attempts:
                raise
            print("  chat: clients could not all connect; settling and retrying", flush=True)
            continue
        result.update(attempt=attempt, settled_s=round(settled_s, 1))
        return result
    raise AssertionError("unreachable")


class ConnectFailed(RuntimeError):
    pass


def _drive(srv: servers.Server, mode: str, rooms: list, rate: float, seconds: int,
           reconnect_share: float) -> dict:
    base = srv.url.replace("http://", "ws://")
    chunks = [rooms[i::PROCESSES] for i in range(PROCESSES)]
    clients = []
    for i, chunk in enumerate(chunks):
        spec = {"mode": mode, "base": base, "origin": srv.url, "rate": rate / PROCESSES,
                "seconds": seconds, "rooms": chunk, "pid": i, "reconnect_share": reconnect_share}
        p = subprocess.Popen([procs.PYTHON, "-m", "bench.clients.chat"], cwd=procs.ROOT,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                             start_new_session=True)
        procs._started.append(p)
        p.stdin.write(json.dumps(spec) + "\n")
        p.stdin.flush()
        clients.append(p)
    t0 = time.monotonic()
    for p in clients:
        line = p.stdout.readline()
        if not line.startswith("READY"):
            for q in clients:
                procs.release(q)
            raise ConnectFailed(f"chat client could not connect: {line.strip()[:300]}")
    connect_s = time.monotonic() - t0
    mon = procs.Monitor([srv.pid]).start()
    for p in clients:
        p.stdin.write("GO\n")
        p.stdin.flush()
    results = []
    for p in clients:
        out, _ = p.communicate(timeout=seconds + 660)
        line = next((x for x in out.splitlines() if x.startswith("BENCHJSON ")), None)
        if line is None:
            raise RuntimeError(f"chat client printed no result: {out[-300:]}")
        results.append(json.loads(line.removeprefix("BENCHJSON ")))
        procs.release(p)
    usage = mon.stop()
    lat = sorted(x for r in results for x in r["lat_ms"])
    # Without the messages a reconnecting socket got through its history: those wait for the
    # socket's own reconnect, whatever the server's live path does.
    live = sorted(x for r in results for x in r.get("lat_live_ms", []))
    on_time = sum(1 for x in lat if x <= 250)
    agg = {k: sum(r[k] for r in results) for k in
           ("sent", "delivered", "expected", "late_via_history", "gaps", "out_of_order",
            "reconnects")}
    errors: dict[str, int] = {}
    for r in results:
        for k, v in {**r["errors"], **{f"dropped:{a}": b for a, b in r["dropped"].items()}}.items():
            errors[k] = errors.get(k, 0) + v
    for k in ("gaps_live", "resumed_after_run"):
        agg[k] = sum(r.get(k, 0) for r in results)
    seconds_seen: dict[int, list] = {}
    for r in results:  # the clients' per-second timelines, merged (n summed, worst p50/max)
        for sec, n, p50, mx in r.get("timeline", []):
            cur = seconds_seen.setdefault(sec, [sec, 0, 0, 0])
            cur[1] += n
            cur[2], cur[3] = max(cur[2], p50), max(cur[3], mx)
    agg["timeline"] = [seconds_seen[k] for k in sorted(seconds_seen)]
    agg.update(on_time=on_time, errors=errors, p50_ms=_pct(lat, 0.5), p99_ms=_pct(lat, 0.99),
               p99_live_ms=_pct(live, 0.99),
               max_ms=lat[-1] if lat else None, connect_s=round(connect_s, 1),
               sent_rate=round(agg["sent"] / seconds, 1), cpu_pct=usage.cpu_pct,
               peak_rss_mb=usage.peak_rss_mb, offered_rate=rate, sockets=len(rooms) * PER_ROOM)
    agg["delivered_pct"] = round(100 * agg["delivered"] / agg["expected"], 1) if agg["expected"] else 0
    return agg


def _fmt(a: dict) -> str:
    return (f"{a['sent_rate']:.0f} msg/s sent, {a['delivered_pct']}% delivered, "
            f"p50 {a['p50_ms'] or 0:.0f} ms, p99 {a['p99_ms'] or 0:.0f} ms")


def run(ctx) -> list[Row]:
    rows: list[Row] = []
    seconds = ctx.seconds
    rates = [100] if ctx.quick else [100, TARGET_RATE]
    if os.environ.get("BENCH_CHAT_RATES"):  # experiments: BENCH_CHAT_RATES=100,500
        rates = [int(r) for r in os.environ["BENCH_CHAT_RATES"].split(",")]
    models = [servers.ASGI_SINGLE] if ctx.quick else [servers.ASGI_SINGLE, servers.CHAT]
    if os.environ.get("BENCH_CHAT_SERVERS"):  # experiments: BENCH_CHAT_SERVERS=asgi1,chat
        wanted = os.environ["BENCH_CHAT_SERVERS"].split(",")
        models = [m for m in (servers.ASGI_SINGLE, servers.CHAT) if m.name in wanted]
    stock_rooms = [[i, [None] * PER_ROOM] for i in range(ROOMS)]
    stock: dict[float, dict] = {}
    with servers.Server(servers.STOCKCHAT, ctx.env) as srv:
        for rate in rates:
            print(f"  stock chat at {rate} msg/s on {srv.url}", flush=True)
            stock[rate] = a = drive(srv, "stock", stock_rooms, rate, seconds, 0.0)
            rows.append(Row(figure=f"chat · stock Channels consumer, 1 process, {rate} msg/s offered",
                            value=_fmt(a), cpu_pct=a["cpu_pct"], peak_rss_mb=a["peak_rss_mb"],
                            notes=f"baseline; {a['sockets']} sockets; errors {a['errors']}",
                            data=a))
    odr_rooms = [[case_id, tokens] for case_id, tokens in data.chat_rooms(ctx.cast, ROOMS, PER_ROOM)]
    for model in models:
        with servers.Server(model, ctx.env) as srv:
            for rate in rates:
                print(f"  odr chat at {rate} msg/s on {model.label}", flush=True)
                # Every phase starts from empty rooms, as the first did: a connect sends the
                # room's history (up to 200 messages), so otherwise each phase would connect
                # into what the phases before it wrote (the 500 msg/s phase fills them).
                data.empty_rooms([case_id for case_id, _ in odr_rooms])
                a = drive(srv, "odr", odr_rooms, rate, seconds, 0.1)
                s = stock[rate]
                # Ratio of on-time deliveries (≤ 250 ms after sending), odr / stock, same rate.
                ratio = (round(a["on_time"] / s["on_time"], 2) if s["on_time"] else None)
                ok = (a["sent_rate"] >= TARGET_RATE * 0.98 and (a["p99_ms"] or 1e9) <= 250
                      and a["gaps"] == 0 and a["delivered_pct"] >= 99.9)
                rows.append(Row(
                    figure=f"chat · odr mediation, {model.label}, {rate} msg/s offered",
                    value=_fmt(a) + f" (live only: p99 {a['p99_live_ms'] or 0:.0f} ms), gaps "
                    f"{a['gaps']} after resume ({a['gaps_live']} live)", target=TARGET,
                    baseline=f"stock: {_fmt(s)}", ratio=ratio, cpu_pct=a["cpu_pct"],
                    peak_rss_mb=a["peak_rss_mb"], ok=ok,
                    notes=(f"{a['sockets']} sockets, {a['reconnects']} forced reconnects "
                           f"({a['late_via_history']} deliveries via history, {a['out_of_order']} out of "
                           f"order; {a['resumed_after_run']} resumes after the run); connect "
                           f"{a['connect_s']}s; errors {a['errors']}; ratio = on-time (≤250 ms) deliveries "
                           f"odr {a['on_time']} / stock {s['on_time']}"),
                    data=a))
    return rows
