"""The serving models the benchmark compares, each started fresh on a free port in 8600–8699."""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from bench import procs


@dataclass(frozen=True)
class Model:
    name: str
    label: str
    args: tuple[str, ...]  # {port} is substituted
    conn_max_age: int


# The recommendation: REST from WSGI sync workers with persistent connections (PERF-NOTES:
# a connection per request costs ~3x; persistent connections leak under ASGI).
WSGI = Model(
    "wsgi", "gunicorn 4 sync workers (WSGI), CONN_MAX_AGE=60",
    (procs.PYTHON, "-m", "gunicorn", "odr.wsgi:application", "--workers", "4",
     "--worker-class", "sync", "--bind", "127.0.0.1:{port}", "--backlog", "2048",
     "--worker-tmp-dir", "/dev/shm", "--preload", "--graceful-timeout", "5", "--timeout", "60"),
    60,
)
# What one `make run` process amounts to on PostgreSQL: one ASGI server, a connection per request.
ASGI_SINGLE = Model(
    "asgi1", "uvicorn 1 process (ASGI, as make run), CONN_MAX_AGE=0",
    (procs.PYTHON, "-m", "uvicorn", "odr.asgi:application", "--host", "127.0.0.1",
     "--port", "{port}", "--no-access-log", "--log-level", "warning",
     "--ws-per-message-deflate", "false"),
    0,
)
STOCKCHAT = Model(
    "stockchat", "uvicorn 1 process, stock Channels tutorial consumer",
    (procs.PYTHON, "-m", "uvicorn", "bench.stockchat.asgi:application", "--host", "127.0.0.1",
     "--port", "{port}", "--no-access-log", "--log-level", "warning"),
    0,
)
CHAT = Model(
    "chat", "uvicorn 2 workers (ASGI), odr mediation chat",
    (procs.PYTHON, "-m", "uvicorn", "odr.asgi:application", "--host", "127.0.0.1",
     "--port", "{port}", "--workers", "2", "--no-access-log", "--log-level", "warning",
     "--ws-per-message-deflate", "false"),
    0,
)


class Server:
    def __init__(self, model: Model, env: dict):
        self.model = model
        self.port = procs.free_port()
        env = dict(env)
        env["CONN_MAX_AGE"] = str(model.conn_max_age)
        args = [a.replace("{port}", str(self.port)) for a in model.args]
        self.proc = procs.spawn(args, env=env, name=f"server-{model.name}-{self.port}")
        procs.wait_port(self.port, self.proc)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        procs.release(self.proc)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def have_wrk() -> bool:
    return shutil.which("wrk") is not None
