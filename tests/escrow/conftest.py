"""Fixtures of the escrow tests: a real partner simulator on loopback and delivery settings
compressed so that retries take milliseconds."""

import pytest

from partners.simulator import PartnerSimulator
from tests.escrow.support import SECRET


@pytest.fixture
def fast_delivery(settings):
    """Backoff in milliseconds, short timeouts and leases, no Celery enqueue."""
    settings.ESCROW_ENQUEUE_ON_COMMIT = False
    settings.ESCROW_BACKOFF_BASE_SECONDS = 0.005
    settings.ESCROW_BACKOFF_CAP_SECONDS = 0.05
    settings.ESCROW_CONNECT_TIMEOUT_SECONDS = 0.5
    settings.ESCROW_READ_TIMEOUT_SECONDS = 0.5
    settings.ESCROW_LEASE_SECONDS = 5
    return settings


@pytest.fixture
def simulator():
    sim = PartnerSimulator(secrets=[SECRET], seed=20261123).start()
    yield sim
    sim.stop()


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """The factories hash a password per user; the default hasher costs ~0.3 s a user."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
