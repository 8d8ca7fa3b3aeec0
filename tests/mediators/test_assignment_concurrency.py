"""Two escalations at once cannot both take a mediator's last slot (PostgreSQL, threads)."""


import pytest
from django.conf import settings

from cases.models import Case
from mediators.models import MediatorProfile
from mediators.services import mediator_auto_assign
from tests import factories as f
from tests.mediators.test_assignment import escalated
from tests.races import race

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not settings.USING_POSTGRES, reason="needs PostgreSQL row locks"),
    pytest.mark.django_db(transaction=True),
]


def test_last_slot_goes_to_one_case_only(buyer_user, seller_user, monkeypatch):
    import time

    import mediators.services as svc

    real = svc.mediator_candidates

    def slow_candidates(**kw):  # widen the race: both threads are inside the choice at once
        found = real(**kw)
        time.sleep(0.3)
        return found

    monkeypatch.setattr(svc, "mediator_candidates", slow_candidates)
    lan = f.mediator(username="lan")
    MediatorProfile.objects.create(user=lan, languages=["vi"], capacity=1)
    ids = [escalated(buyer_user, seller_user).pk for _ in range(2)]
    Case.objects.filter(pk__in=ids).update(mediator=None)  # undo any after-commit assignment
    results = race(*[lambda pk=pk: mediator_auto_assign(case_id=pk) for pk in ids], timeout=30)
    assert sorted(results, key=lambda u: u is None) == [lan, None]
    assert Case.objects.filter(pk__in=ids, mediator=lan).count() == 1
