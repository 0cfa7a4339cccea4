"""Failed renewals on localstripe, run by a real Celery worker at moved times.

What is real here: localstripe (the renewal fails there, the retries and the
card update charge there, the final action cancels there), Redis as broker,
a `celery worker` process, and the dunning beat task. Every task runs in the
worker process, after commit, from Redis.

Time: the test process moves its clock with time_machine, and the worker is
another process that cannot see it. So each move is also written to a file
the worker reads (tests/worker_clock.py): every task the worker runs travels
with time_machine to that same moment. The schedule, the leases, grace and
the final action are then decided by the worker's own ``timezone.now()``,
exactly as in production; nothing in the database is edited to make an
action due. Beat itself is not started: at each moved time the test sends
the task beat sends every 5 minutes (``dunning.run_due_actions``), which is
all a beat tick does (tests/core/test_beat.py checks that beat really fires).
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
from tests.dunning.conftest import DAY, entitled, licence_statuses
from tests.worker_clock import worker_clock_env, worker_clock_set

pytestmark = [
    pytest.mark.worker,
    pytest.mark.localstripe,
    pytest.mark.django_db(transaction=True),
]

A = DunningAction.Status
MINUTE = timedelta(minutes=1)
# Generous: two CPUs shared with other suites.
TIMEOUT = 120.0


@pytest.fixture
def clock_file(tmp_path):
    return tmp_path / "worker-clock"


@pytest.fixture
def celery_worker_env(clock_file):
    return worker_clock_env(clock_file)


@pytest.fixture
def clock(clock_file, time_machine):
    """Move the test's clock and the worker's to the same moment."""

    def move(to):
        time_machine.move_to(to)
        worker_clock_set(clock_file, to)

    return move


def _wait_for(predicate, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    return predicate()


def _sent(case: DunningCase, kind: str) -> int:
    return Notification.objects.filter(
        kind=kind, status="sent", idempotency_key__startswith=f"dunning:{case.pk}:"
    ).count()


def _dunning_kinds_sent(case: DunningCase) -> list[str]:
    return sorted(
        Notification.objects.filter(
            status="sent", idempotency_key__startswith=f"dunning:{case.pk}:"
        ).values_list("kind", flat=True)
    )


def beat() -> int:
    """What a beat tick does: queue the dunning task; wait for the worker's answer."""
    return tasks.run_due_actions.delay().get(timeout=TIMEOUT)


def _fail_renewal(sub) -> DunningCase:
    # Autocommit: the failed invoice's signal opens the case at once and
    # queues the dunning task on Redis; the worker sends the first email.
    call_command(
        "billing_simulate_renewal",
        subscription=sub.pk,
        fail=True,
        card=renewals.CARD_DECLINED_ON_CHARGE,
    )
    case = DunningCase.objects.get(subscription=sub)
    assert _wait_for(lambda: _sent(case, "dunning.failed") == 1)
    return case


def test_worker_schedule_grace_suspends_licence_and_card_update_recovers(
    localstripe, active, clock, celery_worker
):
    clock(timezone.now())
    case = _fail_renewal(active)
    assert licence_statuses(active) == ["active"]
    assert entitled(active)
    retries = case.actions.filter(kind="retry").order_by("due_at")
    assert [r.due_at - case.failed_at for r in retries] == [
        1 * DAY,
        3 * DAY,
        5 * DAY,
        7 * DAY,
    ]

    for day, tried in ((1, 1), (3, 2), (5, 3)):
        clock(case.failed_at + day * DAY + MINUTE)
        assert beat() >= 1
        retries = case.actions.filter(kind="retry")
        assert retries.filter(status=A.FAILED).count() == tried, day
        assert retries.filter(status=A.SCHEDULED).count() == 4 - tried, day
        # The worker's grace_end action (day 5) suspends the licence and the
        # plan's features go with it; until then both stay.
        in_grace = day < 5
        assert licence_statuses(active) == ["active" if in_grace else "suspended"], day
        assert entitled(active) is in_grace, day
    assert case.actions.get(kind="grace_end").status == A.SUCCEEDED
    failed = case.actions.filter(kind="retry", status=A.FAILED)
    assert set(failed.values_list("runs", flat=True)) == {1}
    assert len(set(failed.values_list("idempotency_key", flat=True))) == 3
    assert beat() == 0  # nothing else due at day 5: each action ran once
    assert _wait_for(lambda: _sent(case, "dunning.reminder") == 1)

    # The subscriber saves a working card on day 5; the retry it triggers
    # runs in the worker at that moment.
    clock(case.failed_at + 5 * DAY + 2 * 60 * MINUTE)
    customer = Customer.objects.get(user_id=active.user_id)
    renewals.customer_default_card_set(customer_id=customer.stripe_id, number=CARD_OK)
    payment_method_updated.send(
        sender=Subscription, subscription_id=active.pk, user_id=active.user_id
    )

    assert _wait_for(lambda: DunningCase.objects.get(pk=case.pk).status == "recovered")
    # Licence first: once it follows, the status it follows is committed, so
    # the entitlements read next cannot be cached from before the recovery.
    assert _wait_for(lambda: licence_statuses(active) == ["active"])
    assert entitled(active)
    # The subscription's own status is synced by a task of its own, which
    # may land after the licence's: wait for it rather than read it once.
    assert _wait_for(
        lambda: Subscription.objects.filter(
            pk=active.pk, status="active", grace_until=None
        ).exists()
    )
    assert _wait_for(lambda: _sent(case, "dunning.recovered") == 1)

    clock(case.failed_at + 8 * DAY + MINUTE)
    assert beat() == 0
    assert beat() == 0
    case.refresh_from_db()
    assert case.close_reason == "retry:card_updated"
    assert not case.actions.filter(status__in=[A.SCHEDULED, A.RUNNING]).exists()
    # Once each; the final notice (day 6) was cancelled by the recovery.
    assert _dunning_kinds_sent(case) == [
        "dunning.failed",
        "dunning.recovered",
        "dunning.reminder",
    ]


def test_worker_runs_unrecovered_case_to_final_action_and_cancels(
    localstripe, active, clock, celery_worker
):
    clock(timezone.now())
    case = _fail_renewal(active)

    for day in (1, 3, 5, 6, 7):
        clock(case.failed_at + day * DAY + MINUTE)
        assert beat() >= 1
        in_grace = day < 5
        assert licence_statuses(active) == ["active" if in_grace else "suspended"], day
        assert entitled(active) is in_grace, day
    assert DunningCase.objects.get(pk=case.pk).status == "open"

    clock(case.failed_at + 8 * DAY + MINUTE)
    assert beat() == 1  # the final action

    case.refresh_from_db()
    sub = Subscription.objects.get(pk=active.pk)
    assert (case.status, case.close_reason) == ("exhausted", "cancel")
    assert sub.status == "canceled"
    assert licence_statuses(active) == ["revoked"]
    assert not entitled(active)
    assert case.actions.filter(kind="retry", status=A.FAILED).count() == 4
    assert case.actions.get(kind="final").status == A.SUCCEEDED
    assert beat() == 0
    assert _wait_for(
        lambda: (
            Notification.objects.filter(
                kind="subscriptions.cancelled", status="sent", recipient=sub.user.email
            ).count()
            == 1
        )
    )
    assert _wait_for(lambda: _sent(case, "dunning.final_notice") == 1)
    assert _dunning_kinds_sent(case) == [
        "dunning.failed",
        "dunning.final_notice",
        "dunning.reminder",
    ]
