"""Two beat runs at once, and a worker that died mid-action (PostgreSQL).

The retry's gateway call is replaced by a counting fake for these tests only:
100 localstripe payments would be slow, and what is under test is the claim,
not Stripe. The fake keeps Stripe's idempotency contract: a repeated key is
answered with the first result and charges nothing new. Threads here;
test_worker_claims.py and test_worker_reaper.py do the same with real worker
processes, a real SIGKILL and localstripe's idempotency-key replay.
"""

import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.billing.exceptions import PaymentDeclined
from apps.billing.gateway import invoices as gw_invoices
from apps.core.claims import claim
from apps.dunning import services
from apps.dunning.models import DunningAction
from apps.dunning.services import runner, steps
from tests.dunning.factories import DunningActionFactory, DunningCaseFactory
from tests.parallel import run_in_parallel

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

A = DunningAction.Status


class FakeStripe:
    """Counts calls per idempotency key; a charge happens once per key."""

    def __init__(self):
        self.lock = threading.Lock()
        self.calls: list[str] = []
        self.charged: set[str] = set()

    def invoice_pay(self, *, invoice_id, idempotency_key):
        with self.lock:
            self.calls.append(idempotency_key)
            self.charged.add(idempotency_key)
        raise PaymentDeclined(
            "Your card was declined.", details={"decline_code": "insufficient_funds"}
        )


@pytest.fixture
def stripe(monkeypatch):
    fake = FakeStripe()
    monkeypatch.setattr(gw_invoices, "invoice_pay", fake.invoice_pay)
    # The factories' invoices exist nowhere at Stripe: no read-back.
    monkeypatch.setattr(steps, "_sync", lambda case: None)
    return fake


def _due_retries(cases: int, per_case: int) -> list[DunningAction]:
    past = timezone.now() - timedelta(minutes=1)
    return [
        DunningActionFactory(
            case=case,
            attempt=n,
            due_at=past,
            idempotency_key=f"dunning-{case.pk}-retry-{n}",
        )
        for case in DunningCaseFactory.create_batch(cases)
        for n in range(1, per_case + 1)
    ]


def test_two_beats_at_once_run_each_of_100_actions_exactly_once(stripe):
    actions = _due_retries(cases=10, per_case=10)

    results, errors = run_in_parallel([services.actions_run_due] * 2)

    assert errors == []
    assert sum(results) == 100
    assert sorted(stripe.calls) == sorted(a.idempotency_key for a in actions)
    rows = DunningAction.objects.filter(pk__in=[a.pk for a in actions])
    assert set(rows.values_list("status", "runs")) == {(A.FAILED, 1)}
    assert services.actions_run_due() == 0


def test_dead_workers_action_is_reaped_and_run_once_more_same_key(stripe, time_machine):
    now = timezone.now()
    time_machine.move_to(now)
    (action,) = _due_retries(cases=1, per_case=1)
    # A worker claims the action, reaches Stripe, and dies before recording.
    (claimed,) = claim(
        runner.actions_due(now),
        worker="dead-worker",
        lease=runner.LEASE,
        limit=1,
        status=A.RUNNING,
    )
    stripe.calls.append(claimed.idempotency_key)
    stripe.charged.add(claimed.idempotency_key)

    assert services.actions_run_due() == 0  # leased: nobody else takes it
    time_machine.move_to(now + runner.LEASE + timedelta(seconds=1))
    ran = services.actions_run_due()

    action.refresh_from_db()
    assert ran == 1
    assert action.status == A.FAILED
    assert stripe.calls == [action.idempotency_key, action.idempotency_key]
    assert stripe.charged == {action.idempotency_key}
    assert services.actions_run_due() == 0
