import sys
import types

import pytest


@pytest.fixture
def notified(monkeypatch):
    """Capture notifications.services.notify calls (whether or not that module exists yet)."""
    calls = []

    def notify(*, event, users, case, context):
        calls.append({"event": event, "users": sorted(u.pk for u in users), "case": case.pk,
                      "context": context})

    try:
        import notifications.services as module
    except ImportError:
        module = types.ModuleType("notifications.services")
        monkeypatch.setitem(sys.modules, "notifications.services", module)
    monkeypatch.setattr(module, "notify", notify, raising=False)
    return calls
