"""Escrow delivery settings, read from django.conf.settings with defaults, so a deployment (or a
test) can tune them without this app owning settings.py."""

from django.conf import settings


def _get(name: str, default):
    return getattr(settings, name, default)


def retry_window_hours() -> float:
    """How long after creation an instruction is retried before it is dead-lettered."""
    return float(_get("ESCROW_RETRY_WINDOW_HOURS", 72))


def backoff_base_seconds() -> float:
    return float(_get("ESCROW_BACKOFF_BASE_SECONDS", 30))


def backoff_cap_seconds() -> float:
    return float(_get("ESCROW_BACKOFF_CAP_SECONDS", 3600))


def connect_timeout_seconds() -> float:
    return float(_get("ESCROW_CONNECT_TIMEOUT_SECONDS", 3))


def read_timeout_seconds() -> float:
    return float(_get("ESCROW_READ_TIMEOUT_SECONDS", 15))


def lease_seconds() -> float:
    """A claimed row is not re-sent before its lease ends; it must outlast one request."""
    default = connect_timeout_seconds() + read_timeout_seconds() + 30
    return float(_get("ESCROW_LEASE_SECONDS", default))


def accepted_recheck_seconds() -> float:
    """An instruction the partner accepted (202) is re-sent after this long if no signed
    confirmation arrived; the partner answers a repeat with its stored reply."""
    return float(_get("ESCROW_ACCEPTED_RECHECK_SECONDS", 600))


def callback_base_url() -> str:
    return str(_get("ESCROW_CALLBACK_BASE_URL", _get("SITE_URL", "http://127.0.0.1:8000"))).rstrip("/")


def sweep_batch() -> int:
    return int(_get("ESCROW_SWEEP_BATCH", 200))


def delivery_concurrency() -> int:
    return int(_get("ESCROW_DELIVERY_CONCURRENCY", 8))


def enqueue_on_commit() -> bool:
    """Send a Celery task after commit for each new instruction (the sweep is the backstop)."""
    return bool(_get("ESCROW_ENQUEUE_ON_COMMIT", True))
