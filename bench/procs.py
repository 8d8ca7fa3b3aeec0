"""Processes the benchmark starts (servers, workers, simulator, load generators) and what they
cost: CPU (% of one core, summed over the process tree) and peak RSS over a measurement window.

Every process is started in its own session so it and its children can be ended by process
group; `stop_all()` runs at exit and on SIGINT/SIGTERM, so Ctrl-C leaves nothing behind."""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

try:
    import psutil
except ImportError:  # pragma: no cover - /proc fallback below
    psutil = None

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
LOG_DIR = Path(os.environ.get("ODR_VAR_DIR", "/tmp/bench-var")) / "bench-logs"

_started: list[subprocess.Popen] = []


def stop(proc: subprocess.Popen, timeout: float = 5.0) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def stop_all() -> None:
    while _started:
        stop(_started.pop())


def _on_signal(signum, frame):
    stop_all()
    raise SystemExit(128 + signum)


atexit.register(stop_all)
signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGINT, _on_signal)


def spawn(args: list[str], *, env: dict, name: str) -> subprocess.Popen:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = open(LOG_DIR / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    _started.append(proc)
    return proc


def release(proc: subprocess.Popen) -> None:
    stop(proc)
    if proc in _started:
        _started.remove(proc)


def wait_port(port: int, proc: subprocess.Popen | None = None, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.args[:3]} exited with {proc.returncode}; see {LOG_DIR}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listening on port {port} after {timeout}s")


def free_port(start: int = 8600, end: int = 8700) -> int:
    for port in range(start, end):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 8600-8699")


# --- resource sampling ------------------------------------------------------------------------
def _tree(pid: int) -> list:
    if psutil is None:
        return []
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


@dataclass
class Usage:
    cpu_pct: float = 0.0  # % of one core, summed over the tree (200 = both cores of 2)
    peak_rss_mb: float = 0.0


@dataclass
class Monitor:
    """Samples the process trees of `pids` every 0.25 s between start() and stop()."""

    pids: list[int]
    interval: float = 0.25
    _cpu: dict = field(default_factory=dict)
    _peak: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _t0: float = 0.0
    _procs: list = field(default_factory=list)

    def _members(self, refresh: bool = False) -> list:
        """The trees' processes. Finding children walks all of /proc, which cost the bench
        15-20 % of a core at 4 samples/s; the trees are re-read every 2 s (workers rarely
        change) and the samples in between reuse them."""
        if refresh or not self._procs:
            self._procs = [p for pid in self.pids for p in _tree(pid)]
        return self._procs

    def _sample(self, refresh: bool = False) -> None:
        rss = 0
        for p in self._members(refresh):
            try:
                with p.oneshot():
                    t = p.cpu_times()
                    rss += p.memory_info().rss
                self._cpu[p.pid] = t.user + t.system + t.children_user + t.children_system
            except psutil.NoSuchProcess:
                pass
        self._peak = max(self._peak, rss / (1024 * 1024))

    def _loop(self):
        n = 0
        while not self._stop.wait(self.interval):
            n += 1
            self._sample(refresh=n % 8 == 0)

    def start(self) -> Monitor:
        self._cpu = {}
        self._peak = 0.0
        self._sample(refresh=True)
        self._base = dict(self._cpu)
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> Usage:
        self._stop.set()
        self._thread.join()
        self._sample(refresh=True)
        wall = max(time.monotonic() - self._t0, 1e-6)
        used = sum(v - self._base.get(pid, 0.0) for pid, v in self._cpu.items())
        return Usage(cpu_pct=round(100 * used / wall, 1), peak_rss_mb=round(self._peak, 1))
