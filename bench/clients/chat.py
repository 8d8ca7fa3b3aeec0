"""Chat load client (one of several processes). Reads one JSON spec line on stdin, opens its
sockets (whole rooms, so every member of a room is in this process), prints READY, waits for a
GO line, sends `rate` messages/s for `seconds` from random members of random rooms, drains, and
prints one BENCHJSON line: sent, delivered, expected, latencies, sequence gaps, reconnects.

mode "stock": the Channels tutorial protocol, `/ws/chat/<room>/`, {"message": str}.
mode "odr": the mediation chat, `/ws/cases/<id>/?since=<seq>&token=<key>`, frames
{"type":"message","body","audience","client_id"} → {"type":"message","message":{"seq",…}}; a
share of sockets is closed mid-run and resumes with since=<last seq>: gaps must stay 0."""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time

from websockets.asyncio.client import connect

PAD = "x" * 80  # ~120-byte messages, as in PERF-NOTES


class Sock:
    def __init__(self, client: Client, room, token: str | None):
        self.client, self.room, self.token = client, room, token
        self.ws = None
        self.last_seq = 0
        self.ready = asyncio.Event()
        self.closing = False
        self.base: int | None = None  # last seq before this socket first joined
        self.seqs: set[int] = set()
        self.has_more = False

    def url(self) -> str:
        c = self.client
        if c.mode == "stock":
            return f"{c.base}/ws/chat/r{self.room}/"
        return f"{c.base}/ws/cases/{self.room}/?since={self.last_seq}&token={self.token}"

    async def open(self) -> None:
        self.ready.clear()
        self.ws = await connect(self.url(), origin=self.client.origin, open_timeout=60,
                                max_queue=None, ping_interval=None)
        if self.client.mode == "stock":
            self.ready.set()
        self.task = asyncio.create_task(self.reader(self.ws))

    async def reader(self, ws) -> None:
        c = self.client
        try:
            async for raw in ws:
                now = time.time()
                frame = json.loads(raw)
                if c.mode == "stock":
                    c.delivered_body(frame.get("message", ""), now)
                    continue
                kind = frame.get("type")
                if kind == "history":
                    first = self.base is None
                    if first:
                        self.base = self.last_seq = frame.get("last_seq", 0)
                    for m in frame.get("messages", []):
                        self.seen(m, now, from_history=True)
                    # On a first connect has_more means older history, not a hole.
                    self.has_more = bool(frame.get("has_more")) and not first
                    self.ready.set()
                elif kind == "message":
                    self.seen(frame["message"], now)
                elif kind == "error":
                    c.errors[frame.get("code", "?")] = c.errors.get(frame.get("code", "?"), 0) + 1
        except Exception as exc:  # noqa: BLE001 - a dropped socket is a result, not a crash
            if not self.closing:
                c.dropped[type(exc).__name__] = c.dropped.get(type(exc).__name__, 0) + 1

    def seen(self, m: dict, now: float, from_history: bool = False) -> None:
        """Count each seq once; out-of-order arrivals are counted, and a gap is a seq that
        never arrived by the end (see gaps())."""
        seq = m.get("seq", 0)
        if seq in self.seqs or (self.base is not None and seq <= self.base):
            return  # already had it (history/live overlap) or from before this socket
        if seq < self.last_seq:
            self.client.out_of_order += 1
        self.seqs.add(seq)
        # Resume from the highest contiguous seq, so a reconnect asks for what is missing.
        while self.last_seq + 1 in self.seqs:
            self.last_seq += 1
        self.client.delivered_body(m.get("body", ""), now, from_history)

    def gaps(self) -> int:
        if not self.seqs or self.base is None:
            return 0
        return (max(self.seqs) - self.base) - len(self.seqs)

    async def reconnect(self) -> None:
        self.closing = True
        await self.ws.close()
        await self.task
        self.closing = False
        self.client.reconnects += 1
        await self.open()


class Client:
    def __init__(self, spec: dict):
        self.mode, self.base, self.origin = spec["mode"], spec["base"], spec["origin"]
        self.rate, self.seconds = spec["rate"], spec["seconds"]
        self.reconnect_share = spec.get("reconnect_share", 0.0)
        self.rooms = spec["rooms"]  # [[room, [token, …]], …]
        self.pid = spec["pid"]
        self.run = f"{time.time():.0f}"
        self.sent = 0
        self.sent_at: dict[str, float] = {}
        self.delivered = 0
        self.late = 0  # delivered through history after a reconnect
        self.lat: list[float] = []
        self.lat_live: list[float] = []  # delivered live, not through history after a reconnect
        self.sent_ts: list[float] = []  # when each delivered message was sent (timeline)
        self.out_of_order = 0
        self.reconnects = 0
        self.errors: dict[str, int] = {}
        self.dropped: dict[str, int] = {}
        self.socks: dict = {}

    def delivered_body(self, body: str, now: float, from_history: bool = False) -> None:
        parts = body.split("|")
        if len(parts) < 3 or parts[0] != "bench":
            return
        self.delivered += 1
        if from_history:
            self.late += 1
        else:
            self.lat_live.append(now - float(parts[2]))
        self.lat.append(now - float(parts[2]))
        self.sent_ts.append(float(parts[2]))

    async def open_all(self) -> None:
        sem = asyncio.Semaphore(40)

        async def one(s: Sock):
            async with sem:
                await s.open()
                if self.mode == "odr":
                    await asyncio.wait_for(s.ready.wait(), 60)

        for room, tokens in self.rooms:
            self.socks[room] = [Sock(self, room, t) for t in tokens]
        await asyncio.gather(*(one(s) for socks in self.socks.values() for s in socks))

    async def send_loop(self) -> None:
        rooms = list(self.socks)
        interval = 1.0 / self.rate if self.rate else 1e9
        start = time.monotonic()
        n = 0
        reconnect_at = start + self.seconds / 2 if self.reconnect_share else None
        while time.monotonic() - start < self.seconds:
            target = start + n * interval
            delay = target - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if reconnect_at and time.monotonic() >= reconnect_at:
                reconnect_at = None
                every = [s for socks in self.socks.values() for s in socks]
                victims = random.sample(every, int(len(every) * self.reconnect_share))
                asyncio.gather(*(v.reconnect() for v in victims))  # noqa: RUF006
            sock = random.choice(self.socks[random.choice(rooms)])
            mid = f"{self.run}-{self.pid}-{n}"  # unique per run: a reused id is a resend
            body = f"bench|{mid}|{time.time():.6f}|{PAD}"
            frame = ({"message": body} if self.mode == "stock" else
                     {"type": "message", "body": body, "audience": "all", "client_id": mid})
            try:
                await sock.ws.send(json.dumps(frame))
                self.sent += 1
            except Exception:  # noqa: BLE001 - socket being reconnected: skip this tick
                self.errors["send_failed"] = self.errors.get("send_failed", 0) + 1
            n += 1

    def result(self, room_size: int) -> dict:
        gaps = sum(s.gaps() for socks in self.socks.values() for s in socks)
        return {"sent": self.sent, "delivered": self.delivered, "expected": self.sent * room_size,
                "late_via_history": self.late, "gaps": gaps, "out_of_order": self.out_of_order,
                "reconnects": self.reconnects,
                "errors": self.errors, "dropped": self.dropped,
                "lat_ms": [round(x * 1000, 2) for x in self.lat],
                "lat_live_ms": [round(x * 1000, 2) for x in self.lat_live],
                "timeline": self.timeline()}

    def timeline(self) -> list[list[float]]:
        """Per second of sending: [second, deliveries, p50 ms, max ms] (where latency builds up)."""
        if not self.sent_ts:
            return []
        t0 = min(self.sent_ts)
        by: dict[int, list[float]] = {}
        for ts, lat in zip(self.sent_ts, self.lat, strict=True):
            by.setdefault(int(ts - t0), []).append(lat)
        out = []
        for sec in sorted(by):
            xs = sorted(by[sec])
            out.append([sec, len(xs), round(xs[len(xs) // 2] * 1000), round(xs[-1] * 1000)])
        return out


async def main() -> None:
    spec = json.loads(sys.stdin.readline())
    client = Client(spec)
    t0 = time.monotonic()
    try:
        await client.open_all()
    except Exception as exc:  # noqa: BLE001
        print("FAILED " + json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
        return
    print(f"READY {time.monotonic() - t0:.1f}", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)  # GO
    await client.send_loop()
    # Drain: wait until nothing new arrives for 5 s.
    last, quiet = -1, time.monotonic()
    while time.monotonic() - quiet < 5 and time.monotonic() - t0 < 600:
        await asyncio.sleep(0.25)
        if client.delivered != last:
            last, quiet = client.delivered, time.monotonic()
    size = len(spec["rooms"][0][1]) if spec["rooms"] else 0
    result = client.result(size)
    if client.mode == "odr":
        # What the live stream missed must still be there: every socket with a hole resumes
        # with since=<highest contiguous seq> (pages while has_more) and the holes are counted
        # again. Live gaps are the at-most-once bus; gaps after resume would be lost messages.
        every = [s for socks in client.socks.values() for s in socks]
        for _ in range(5):
            holes = [s for s in every if s.gaps() or s.has_more]
            if not holes:
                break
            sem = asyncio.Semaphore(40)

            async def resume(s: Sock, sem=sem):
                async with sem:
                    await s.reconnect()
                    await asyncio.wait_for(s.ready.wait(), 60)

            await asyncio.gather(*(resume(s) for s in holes), return_exceptions=True)
        result["gaps_live"] = result["gaps"]
        result["gaps"] = sum(s.gaps() for s in every)
        result["resumed_after_run"] = client.reconnects - result["reconnects"]
    print("BENCHJSON " + json.dumps(result), flush=True)
    for socks in client.socks.values():
        for s in socks:
            s.closing = True
            await s.ws.close()


if __name__ == "__main__":
    asyncio.run(main())
