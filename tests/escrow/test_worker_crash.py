"""A delivery worker (a real OS process against PostgreSQL) killed with SIGKILL while its
requests are in flight loses nothing and applies nothing twice once a worker runs again."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from django.db import connection

from cases.models import Payment, TimelineEntry
from escrow.models import EscrowInstruction
from tests.escrow.support import point_at
from tests.escrow.test_delivery import bulk_cases, instruct_each

ROOT = Path(__file__).resolve().parents[2]


def _worker(*extra: str) -> subprocess.Popen:
    """`manage.py escrow_deliver` in its own process, on the test database."""
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    url = f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": url, "ODR_VAR_DIR": "/tmp/escrow-var", "REDIS_URL": "",
           "LOG_LEVEL": "WARNING"}
    return subprocess.Popen(
        [sys.executable, "manage.py", "escrow_deliver", "--concurrency", "8", "--lease-seconds", "2",
         "--read-timeout", "1", "--idle-sleep", "0.1", *extra],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_delivery_loses_nothing_and_applies_nothing_twice(
        settings, simulator, order):
    if not settings.USING_POSTGRES:
        pytest.skip("a subprocess cannot share the SQLite test database")
    settings.ESCROW_ENQUEUE_ON_COMMIT = False
    point_at(simulator)
    # given 120 instructions and a slow partner (0.3 s per request), so requests are in flight
    instruct_each(bulk_cases(order, 120), kinds=("hold",), amount=50_000)
    simulator.configure(slow_ms=300)
    # when a worker process is killed with SIGKILL mid-delivery
    worker = _worker("--loop")
    deadline = time.monotonic() + 30
    while simulator.ledger()["counts"]["requests"] < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    leased = EscrowInstruction.objects.filter(status="pending", lease_until__isnull=False).count()
    confirmed_at_kill = EscrowInstruction.objects.filter(status="confirmed").count()
    assert leased > 0, "the worker died with rows claimed"
    assert confirmed_at_kill < 120
    # and another worker runs after the dead one's leases expire
    simulator.configure(slow_ms=0)
    time.sleep(2.1)
    restarted = _worker()
    for _ in range(20):
        restarted.wait(timeout=60)
        if not EscrowInstruction.objects.exclude(status="confirmed").exists():
            break
        restarted = _worker()
    # then every instruction was applied exactly once by the partner and confirmed once in odr
    ledger = simulator.ledger()
    keys = Counter(a["key"] for a in ledger["applications"])
    assert len(keys) == 120 and set(keys.values()) == {1}
    assert Counter(EscrowInstruction.objects.values_list("status", flat=True)) == {"confirmed": 120}
    assert TimelineEntry.objects.filter(action="escrow_confirmed").count() == 120
    held = dict(Payment.objects.filter(external_id__startswith="BULKPAY").values_list("pk", "held_amount"))
    assert held == dict(EscrowInstruction.objects.values_list("payment_id", "amount"))
    # some were sent twice (the dead worker's in-flight requests): the partner replayed them
    assert ledger["counts"]["replayed"] >= 1
