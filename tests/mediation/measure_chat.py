"""Quick measurement (not the benchmark): messages/s through ONE uvicorn process with ~50
sockets — 10 cases × 5 members (buyer, 2 seller staff, mediator, supervisor) — every socket
sending at a fixed rate within the per-connection limit; each message is persisted, then
delivered to the 5 sockets of its case.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/odr_chat REDIS_URL=redis://127.0.0.1:6379/3 \
      ODR_VAR_DIR=/tmp/chat-var .venv/bin/python tests/mediation/measure_chat.py 2 4
(args: per-socket msg/s — offered load is 50× that — and seconds)
"""

import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "odr.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from cases import roles, services  # noqa: E402
from tests import factories as f  # noqa: E402
from tests.mediation.servers import uvicorn_servers  # noqa: E402


def setup(n_cases: int = 10) -> list[tuple[int, list[str]]]:
    call_command("migrate", verbosity=0)
    tag = str(int(time.time()))
    sup = User.objects.create(username=f"sup-{tag}")
    sup.groups.add(Group.objects.get_or_create(name=roles.SUPERVISORS)[0])
    out = []
    for i in range(n_cases):
        buyer = User.objects.create(username=f"b{i}-{tag}")
        staff = [User.objects.create(username=f"s{i}{k}-{tag}") for k in range(2)]
        med = User.objects.create(username=f"m{i}-{tag}")
        med.groups.add(Group.objects.get_or_create(name=roles.MEDIATORS)[0])
        seller = f.SellerFactory(staff_users=staff, external_id=f"shop-{tag}-{i}")
        order = f.OrderFactory(buyer__user=buyer, buyer__external_id=f"buyer-{tag}-{i}",
                               seller=seller, external_id=f"DH-{tag}-{i}")
        case = services.case_file(actor=buyer, order_id=order.pk, reason="damaged",
                                  desired_outcome="full_refund", claimed_amount=100_000,
                                  description="đo tải")
        services.case_escalate(case_id=case.pk, actor=staff[0], reason="đo tải")
        services.case_assign(case_id=case.pk, actor=sup, mediator=med)
        users = [buyer, *staff, med, sup]
        out.append((case.pk, [Token.objects.get_or_create(user=u)[0].key for u in users]))
    return out


async def run(port: int, cases, rate: float, seconds: float) -> dict:
    from websockets.asyncio.client import connect

    sent_at: dict[str, float] = {}
    latencies: list[float] = []
    received = 0
    sockets = []
    for case_id, tokens in cases:
        for tok in tokens:
            ws = await connect(f"ws://127.0.0.1:{port}/ws/cases/{case_id}/?token={tok}",
                               origin=f"http://127.0.0.1:{port}", max_queue=None)
            sockets.append(ws)

    async def reader(ws):
        nonlocal received
        async for raw in ws:
            frame = json.loads(raw)
            if frame["type"] == "message":
                cid = frame["message"]["client_id"]
                if cid in sent_at:
                    received += 1
                    latencies.append(time.perf_counter() - sent_at[cid])

    async def writer(ws, n):
        await asyncio.sleep(n / (rate * len(sockets)))  # spread the senders evenly
        for k in range(int(rate * seconds)):
            cid = f"{n}-{k}-{time.time_ns()}"
            sent_at[cid] = time.perf_counter()
            await ws.send(json.dumps({"type": "message", "body": "x" * 100, "client_id": cid}))
            await asyncio.sleep(1 / rate)

    readers = [asyncio.create_task(reader(ws)) for ws in sockets]
    await asyncio.sleep(1)
    t0 = time.perf_counter()
    await asyncio.gather(*(writer(ws, n) for n, ws in enumerate(sockets)))
    expected = len(sent_at) * 5
    deadline = time.perf_counter() + 30
    while received < expected and time.perf_counter() < deadline:
        await asyncio.sleep(0.1)
    elapsed = time.perf_counter() - t0
    for ws in sockets:
        await ws.close()
    for r in readers:
        r.cancel()
    lat = sorted(latencies)
    return {"sockets": len(sockets), "sent": len(sent_at), "offered_msg_s": rate * len(sockets),
            "delivered": f"{received}/{expected}", "elapsed_s": round(elapsed, 1),
            "msg_s": round(len(sent_at) / elapsed, 1), "deliveries_s": round(received / elapsed, 1),
            "p50_ms": round(statistics.median(lat) * 1000) if lat else None,
            "p99_ms": round(lat[int(len(lat) * 0.99) - 1] * 1000) if lat else None}


if __name__ == "__main__":
    rate = float(sys.argv[1]) if len(sys.argv) > 1 else 2
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 4
    cases = setup()
    with uvicorn_servers(1) as (port,):
        print(json.dumps(asyncio.run(run(port, cases, rate, seconds))))
