"""Outward channels. Each configured backend is one channel of the preferences matrix; the
registry below builds them once from `NOTIFICATION_BACKENDS` (notifications.conf)."""

from __future__ import annotations

from functools import lru_cache

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from notifications import conf
from notifications.backends.base import Backend, DeliveryError, PermanentDeliveryError

__all__ = ["Backend", "DeliveryError", "PermanentDeliveryError", "all_backends", "get_backend"]


@lru_cache(maxsize=1)
def all_backends() -> dict[str, Backend]:
    backends: dict[str, Backend] = {}
    for name, spec in conf.backends_config().items():
        cls = import_string(spec["BACKEND"])
        backends[name] = cls(name=name, **(spec.get("OPTIONS") or {}))
    return backends


def get_backend(name: str) -> Backend | None:
    return all_backends().get(name)


@receiver(setting_changed)
def _reset(*, setting: str, **kwargs) -> None:
    """Tests (and override_settings) swap NOTIFICATION_BACKENDS: rebuild the registry."""
    if setting == "NOTIFICATION_BACKENDS":
        all_backends.cache_clear()
