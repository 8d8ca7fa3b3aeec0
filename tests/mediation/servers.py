"""Real ASGI server processes for end-to-end chat tests and the quick measurement."""

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    """The database this test session runs in (the test database, with committed data)."""
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def free_port(lo: int = 8300, hi: int = 8399) -> int:
    start = lo + os.getpid() % (hi - lo)
    for i in range(hi - lo):
        port = lo + (start - lo + i) % (hi - lo)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 8300-8399")


@contextlib.contextmanager
def uvicorn_servers(n: int, *, env: dict | None = None, timeout: float = 40):
    """Start `n` uvicorn processes of odr.asgi on free ports; yield the ports; stop them."""
    procs, ports = [], []
    base = {**os.environ, "DATABASE_URL": database_url(), "REDIS_URL": settings.REDIS_URL,
            "ODR_VAR_DIR": "/tmp/chat-var", "DJANGO_SETTINGS_MODULE": "odr.settings",
            "LOG_LEVEL": "WARNING", **(env or {})}
    try:
        for _ in range(n):
            port = free_port()
            procs.append(subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", "uvicorn", "odr.asgi:application", "--host", "127.0.0.1",
                 "--port", str(port), "--log-level", "warning", "--no-access-log"],
                cwd=ROOT, env=base, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
            ports.append(port)
            _wait(port, procs[-1], timeout)
        yield ports
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _wait(port: int, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"uvicorn exited: {proc.stderr.read().decode()[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"uvicorn on {port} did not start in {timeout} s")
