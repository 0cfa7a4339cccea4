"""Dunning in a real Celery worker process (the services pass).

The worker is another process, so time_machine cannot move its clock: the
next retry is made due by moving its ``due_at`` into the past instead (the
time-moved schedule itself is covered by test_end_to_end.py, eagerly). What
this adds: the beat task and the card-update retry run from Redis, after
commit, in another process, with the same outcome.
"""

import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.billing.gateway import renewals
from apps.billing.gateway.testing import CARD_OK
from apps.core.models import Notification
from apps.dunning import tasks
from apps.dunning.models import DunningAction, DunningCase
from apps.subscriptions.models import Customer, Subscription
from apps.subscriptions.signals import payment_method_updated

pytestmark = [
    pytest.mark.worker,
    pytest.mark.localstripe,
    pytest.mark.django_db(transaction=True),
]


def _wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    return predicate()


def _sent(kind: str) -> int:
    return Notification.objects.filter(kind=kind, status="sent").count()


def test_worker_runs_the_schedule_and_the_card_update_recovers(
    localstripe, active, celery_worker
):
    # Autocommit: the failed invoice's signal opens the case at once and
    # queues the beat task on Redis; the worker sends the first email.
    call_command(
        "billing_simulate_renewal",
        subscription=active.pk,
        fail=True,
        card=renewals.CARD_DECLINED_ON_CHARGE,
    )
    case = DunningCase.objects.get(subscription=active)
    assert _wait_for(lambda: _sent("dunning.failed") == 1)

    first = case.actions.get(kind="retry", attempt=1)
    DunningAction.objects.filter(pk=first.pk).update(
        due_at=timezone.now() - timedelta(minutes=1)
    )
    assert tasks.run_due_actions.delay().get(timeout=60) == 1
    first.refresh_from_db()
    assert (first.status, first.runs) == (DunningAction.Status.FAILED, 1)

    customer = Customer.objects.get(user_id=active.user_id)
    renewals.customer_default_card_set(customer_id=customer.stripe_id, number=CARD_OK)
    payment_method_updated.send(
        sender=Subscription, subscription_id=active.pk, user_id=active.user_id
    )

    assert _wait_for(lambda: DunningCase.objects.get(pk=case.pk).status == "recovered")
    assert _wait_for(lambda: _sent("dunning.recovered") == 1)
    sub = Subscription.objects.get(pk=active.pk)
    assert sub.status == "active"
    assert sub.grants_access(timezone.now())
    assert _sent("dunning.failed") == 1
