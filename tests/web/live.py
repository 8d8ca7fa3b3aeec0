"""A real server for the browser tests: daphne (HTTP + WebSocket) on its own SQLite file, and
small commands run in separate processes against the same file (seed, pass a deadline, confirm
the escrow). Usage inside a process: `python -m tests.web.live seed|advance <id>|confirm <id>`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable
PASSWORD = "pw-odr-2026"


def free_port(lo: int = 8540, hi: int = 8599) -> int:
    for port in range(lo, hi + 1):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 8540–8599")


def _postgres_database(url: str, name: str) -> str:
    """A fresh database `name` next to the one `url` names (dropped first if it exists)."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg2

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return urlunsplit(parts._replace(path=f"/{name}"))


def drop_postgres_database(env: dict) -> None:
    url = env.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        return
    from urllib.parse import urlsplit, urlunsplit

    import psycopg2

    parts = urlsplit(url)
    conn = psycopg2.connect(urlunsplit(parts._replace(path="/postgres")))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')
    conn.close()


def server_env(var_dir: Path, port: int) -> dict:
    """The server's environment: PostgreSQL (a fresh database) and Redis when the test run has
    them, else a SQLite file and the in-process channel layer."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")}
    database = f"sqlite:///{var_dir / 'browser.sqlite3'}"
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        database = _postgres_database(os.environ["DATABASE_URL"], f"odr_web_browser_{port}")
    if os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = os.environ["REDIS_URL"]
        env["CELERY_BROKER_URL"] = "memory://"  # no worker here: nothing must pile up in Redis
    # No event relay runs beside this server: case events (chat lines, notifications,
    # assignment, the `case` frame) are dispatched inline, as in the embedded default.
    env["ODR_EVENTS_ASYNC"] = "0"
    env.update({
        "DJANGO_SETTINGS_MODULE": "odr.settings", "ODR_VAR_DIR": str(var_dir),
        "DATABASE_URL": database, "DEBUG": "1",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CSRF_TRUSTED_ORIGINS": f"http://127.0.0.1:{port}", "PYTHONPATH": str(ROOT),
        "LOG_LEVEL": "WARNING",
    })
    return env


def run(env: dict, *args: str) -> dict:
    out = subprocess.run([PYTHON, "-m", "tests.web.live", *args], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


class Server:
    """daphne serving odr.asgi on a free port; stopped by its own pid."""

    def __init__(self, env: dict, port: int) -> None:
        self.port, self.env = port, env
        self.url = f"http://127.0.0.1:{port}"
        self.log = open(Path(env["ODR_VAR_DIR"]) / "daphne.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "odr.asgi:application"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("daphne did not start: " + (Path(env["ODR_VAR_DIR"]) / "daphne.log").read_text())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


# --- commands run inside a subprocess ----------------------------------------------------------
def _seed() -> dict:
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    from cases.models import Shipment, ShipmentEvent
    from tests import factories as f

    call_command("migrate", verbosity=0)
    buyer = f.UserFactory(username="lan", first_name="Trần Thị", last_name="Lan")
    seller_user = f.UserFactory(username="htx", first_name="Phạm Văn", last_name="Hùng")
    mediator = f.mediator(username="hgv", first_name="Đỗ Minh", last_name="Châu")
    second = f.mediator(username="hgv2", first_name="Vũ Thu", last_name="Hà")
    try:
        from mediators.models import MediatorProfile

        MediatorProfile.objects.create(user=mediator, languages=["vi", "en"], capacity=15,
                                       specialities=["damaged", "not_as_described"])
        MediatorProfile.objects.create(user=second, languages=["vi", "tay"], capacity=10)
    except ImportError:
        pass
    supervisor = f.supervisor(username="gsv", first_name="Lê Quang", last_name="Đức")
    f.PartnerFactory(code="ocop", name="Sàn OCOP Quảng Ninh")
    seller = f.SellerFactory(staff_users=[seller_user], name="HTX Chè Hoành Bồ", ocop_stars=4)
    order = f.paid_order(buyer__user=buyer, buyer__name="Trần Thị Lan", seller=seller,
                         external_id="DH100123")
    ghn = f.PartnerFactory(code="ghn", name="Giao Hàng Nhanh", kind="carrier")
    shipment = Shipment.objects.create(carrier=ghn, tracking_number="GHN5566778899", order=order,
                                       status="delivered", delivered_at=order.delivered_at)
    now = timezone.now()
    for status, days, place in (("picked_up", 5, "Hạ Long, Quảng Ninh"),
                                ("in_transit", 4, "Kho GHN Cẩm Phả"),
                                ("delivered", 2, "Uông Bí, Quảng Ninh")):
        ShipmentEvent.objects.create(shipment=shipment, status=status,
                                     occurred_at=now - timedelta(days=days), location=place)
    # a few more cases for the statistics page
    other = f.SellerFactory(name="Cơ sở Nem chua Quảng Yên")
    for i, reason in enumerate(["not_received", "wrong_item", "damaged"]):
        o = f.paid_order(buyer__user=f.UserFactory(username=f"b{i}"), seller=other)
        from cases import services

        case = services.case_file(actor=o.buyer.user, order_id=o.pk, reason=reason,
                                  desired_outcome="full_refund", claimed_amount=200_000,
                                  description="Đơn hàng có vấn đề.")
        if i != 1:
            services.case_withdraw(case_id=case.pk, actor=o.buyer.user, reason="Đã thỏa thuận")
    return {"order": order.pk, "buyer": buyer.pk, "mediator": mediator.pk, "supervisor": supervisor.pk}


def _advance(case_id: int) -> dict:
    """The appeal window passes (as the periodic sweep would see it in 30 days)."""
    from datetime import timedelta

    from django.utils import timezone

    from cases import services

    case = services.case_deadline_pass(case_id=case_id, now=timezone.now() + timedelta(days=30))
    return {"state": case.state if case else None}


def _confirm(case_id: int) -> dict:
    """The payment partner confirms every instruction of the case, oldest first."""
    from escrow.models import EscrowInstruction
    from escrow.services import escrow_confirm

    done = []
    for pk in EscrowInstruction.objects.filter(case_id=case_id).order_by("created_at") \
            .values_list("pk", flat=True):
        escrow_confirm(instruction_id=pk, partner_reference=f"MOMO-{str(pk)[:8]}")
        done.append(str(pk))
    from cases.models import Case

    return {"confirmed": done, "state": Case.objects.get(pk=case_id).state}


if __name__ == "__main__":
    import django

    django.setup()
    command = sys.argv[1]
    if command == "seed":
        result = _seed()
    elif command == "advance":
        result = _advance(int(sys.argv[2]))
    elif command == "confirm":
        result = _confirm(int(sys.argv[2]))
    else:
        raise SystemExit(f"unknown command {command}")
    print(json.dumps(result))
