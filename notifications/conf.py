"""Notification settings, read from django.conf.settings with defaults, so a deployment (or a
test) adds an SMS or Zalo OA backend, or tunes retries, without this app owning settings.py."""

from django.conf import settings

DEFAULT_BACKENDS: dict[str, dict] = {
    "email": {"BACKEND": "notifications.backends.email.EmailBackend"},
    "log": {"BACKEND": "notifications.backends.log.LogBackend"},
}


def _get(name: str, default):
    return getattr(settings, name, default)


def backends_config() -> dict[str, dict]:
    """`{name: {"BACKEND": dotted path, "OPTIONS": {...}}}`; the name is the channel key users
    see in their preferences and the `channel` of each Delivery row."""
    return dict(_get("NOTIFICATION_BACKENDS", DEFAULT_BACKENDS))


def max_attempts() -> int:
    """Attempts per delivery (the first send plus retries) before it is marked failed."""
    return int(_get("NOTIFICATION_MAX_ATTEMPTS", 5))


def backoff_max_seconds() -> int:
    """Cap of Celery's exponential retry backoff (1, 2, 4, … s with jitter)."""
    return int(_get("NOTIFICATION_BACKOFF_MAX_SECONDS", 600))


def lease_seconds() -> int:
    """A delivery claimed by a worker is not claimed again before this; it must outlast one send."""
    return int(_get("NOTIFICATION_LEASE_SECONDS", 120))


def stale_seconds() -> int:
    """The sweep re-enqueues a pending delivery untouched for this long (a lost on-commit enqueue,
    a worker that died mid-retry); longer than the whole retry schedule."""
    return int(_get("NOTIFICATION_STALE_SECONDS", 1800))


def enqueue_on_commit() -> bool:
    """Send a Celery task after commit for each due delivery (the sweep is the backstop); a test
    suite without a broker may turn it off."""
    return bool(_get("NOTIFICATION_ENQUEUE_ON_COMMIT", True))


def timezone_name() -> str:
    """Quiet hours are wall-clock times in this zone."""
    return str(_get("NOTIFICATION_TIME_ZONE", "Asia/Ho_Chi_Minh"))


def site_url() -> str:
    return str(_get("SITE_URL", "http://127.0.0.1:8000")).rstrip("/")


def default_language() -> str:
    return str(_get("LANGUAGE_CODE", "vi"))[:2]
