"""A worker SIGKILLed mid-action: reaped, run once more, charged once (issue 15).

What is real: localstripe (the renewal, the retry's charge, and its
Idempotency-Key replay: scripts/localstripe_runner.py's "idempotency" shim
answers a repeated key with the first response, as Stripe does), Redis, two
`celery worker` processes one after the other, a real SIGKILL, and the lease
and reaper in ``apps.dunning.services.runner``. The only test hook is where
the first worker stops: tests/dunning/worker_stripe.py lets the real Stripe
call finish, then blocks before the outcome is recorded, so the kill lands
exactly between "Stripe answered" and "the row says so".

Time: the lease is 5 minutes; both workers read the test's moved clock
(tests/worker_clock.py), so the second one sees the lease lapse without
anyone editing the row.
"""

import os
import signal
import time
import uuid
from datetime import timedelta

import pytest
import stripe
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from apps.billing.gateway import renewals
from apps.dunning import tasks
from apps.dunning.models import DunningAction, DunningCase
from apps.dunning.services import runner
from apps.subscriptions.models import Customer
from tests.conftest import start_celery_worker, stop_celery_worker
from tests.dunning.conftest import DAY
from tests.dunning.worker_stripe import HOLD, StripeLog
from tests.worker_clock import worker_clock_env, worker_clock_set

pytestmark = [
    pytest.mark.worker,
    pytest.mark.localstripe,
    pytest.mark.django_db(transaction=True),
]

A = DunningAction.Status
MINUTE = timedelta(minutes=1)
TIMEOUT = 120.0  # two CPUs shared with other suites


@pytest.fixture
def stripe_prefix():
    return f"dunning-test-{uuid.uuid4().hex}"


@pytest.fixture
def clock_file(tmp_path):
    return tmp_path / "worker-clock"


@pytest.fixture
def celery_worker_env(clock_file, stripe_prefix):
    env = worker_clock_env(clock_file)
    env["WORKER_TEST_IMPORTS"] += ",tests.dunning.worker_stripe"
    return {**env, HOLD: stripe_prefix}


@pytest.fixture
def stripe_log(stripe_prefix):
    log = StripeLog(settings.REDIS_URL, stripe_prefix)
    yield log
    log.release()  # never leave a blocked worker behind a failed assertion
    log.clear()


@pytest.fixture
def clock(clock_file, time_machine):
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


def _charges(customer_id: str) -> list[str]:
    """The charge ids localstripe holds for the customer (each is an attempt)."""
    charges = stripe.Charge.list(
        customer=customer_id, limit=100, api_key=settings.STRIPE_TEST_SECRET_KEY
    )
    return sorted(c.id for c in charges)


def test_killed_workers_action_is_reaped_and_run_once_more_never_charged_twice(
    localstripe, active, clock, stripe_log, celery_worker
):
    clock(timezone.now())
    call_command(
        "billing_simulate_renewal",
        subscription=active.pk,
        fail=True,
        card=renewals.CARD_DECLINED_ON_CHARGE,
    )
    case = DunningCase.objects.get(subscription=active)
    retry = case.actions.get(kind="retry", attempt=1)
    customer = Customer.objects.get(user_id=active.user_id).stripe_id
    before = _charges(customer)

    # Day 1: the first worker claims the retry, Stripe declines the charge,
    # and the worker is killed before it records that.
    clock(case.failed_at + DAY + MINUTE)
    tasks.run_due_actions.delay()
    assert _wait_for(stripe_log.reached) == [retry.idempotency_key]
    retry.refresh_from_db()
    assert (retry.status, retry.runs) == (A.RUNNING, 1)
    first_claim = retry.claimed_by
    charged_once = _charges(customer)
    assert len(charged_once) == len(before) + 1  # the attempt reached Stripe

    os.killpg(celery_worker.pid, signal.SIGKILL)
    celery_worker.wait(timeout=TIMEOUT)
    assert celery_worker.returncode == -signal.SIGKILL

    env = {k: v for k, v in celery_worker.env.items() if k != HOLD}
    second = start_celery_worker(celery_worker.queue, env)
    try:
        # Still leased: the second worker leaves it alone.
        assert tasks.run_due_actions.delay().get(timeout=TIMEOUT) == 0
        retry.refresh_from_db()
        assert (retry.status, retry.claimed_by) == (A.RUNNING, first_claim)

        # The lease lapses: the reaper puts it back and it runs once more,
        # with the same key, so localstripe replays the first decline.
        clock(case.failed_at + DAY + MINUTE + runner.LEASE + MINUTE)
        assert tasks.run_due_actions.delay().get(timeout=TIMEOUT) == 1
        retry.refresh_from_db()
        assert (retry.status, retry.runs) == (A.FAILED, 2)
        assert retry.claimed_by == ""
        assert retry.decline_code == "generic_decline"
        assert _charges(customer) == charged_once  # never twice at Stripe
        assert tasks.run_due_actions.delay().get(timeout=TIMEOUT) == 0

        # A new attempt has a new key, and that one does charge: the count
        # above would have seen a second charge.
        clock(case.failed_at + 3 * DAY + MINUTE)
        assert tasks.run_due_actions.delay().get(timeout=TIMEOUT) >= 1
        assert len(_charges(customer)) == len(charged_once) + 1
        assert case.actions.get(kind="retry", attempt=2).status == A.FAILED
    finally:
        stop_celery_worker(second)
