"""Two real worker processes run the dunning beat task at once (issue 15).

What is real: two `celery worker` processes, each running
``dunning.run_due_actions`` from Redis, claiming from the same PostgreSQL
rows (``select_for_update(skip_locked=True)`` and a lease). What is not: the
Stripe call, replaced in the workers by tests/dunning/worker_stripe.py's fake
(100 localstripe renewals would be slow; the claim is under test, not
Stripe). Its first call in each worker waits until the other worker has
called too, so both are inside a claimed batch at the same time.
"""

import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from apps.dunning import tasks
from apps.dunning.models import DunningAction
from tests.conftest import start_celery_worker, stop_celery_worker
from tests.dunning.factories import DunningActionFactory, DunningCaseFactory
from tests.dunning.worker_stripe import FAKE, StripeLog

pytestmark = [
    pytest.mark.worker,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

A = DunningAction.Status
TIMEOUT = 300  # two CPUs shared with other suites


@pytest.fixture
def stripe_prefix():
    return f"dunning-test-{uuid.uuid4().hex}"


@pytest.fixture
def celery_worker_env(stripe_prefix):
    return {"WORKER_TEST_IMPORTS": "tests.dunning.worker_stripe", FAKE: stripe_prefix}


@pytest.fixture
def stripe_log(stripe_prefix):
    log = StripeLog(settings.REDIS_URL, stripe_prefix)
    yield log
    log.clear()


@pytest.fixture
def second_worker(celery_worker):
    """Another worker process like the first, on a queue of its own."""
    proc = start_celery_worker(f"{celery_worker.queue}-b", celery_worker.env)
    yield proc
    stop_celery_worker(proc)


def test_two_workers_run_each_of_100_due_actions_exactly_once(
    stripe_log, celery_worker, second_worker
):
    past = timezone.now() - timedelta(minutes=1)
    actions = [
        DunningActionFactory(
            case=case,
            attempt=n,
            due_at=past,
            idempotency_key=f"dunning-{case.pk}-retry-{n}",
        )
        for case in DunningCaseFactory.create_batch(10)
        for n in range(1, 11)
    ]

    # One beat task to each worker, at once.
    first = tasks.run_due_actions.apply_async(queue=celery_worker.queue)
    second = tasks.run_due_actions.apply_async(queue=second_worker.queue)
    ran = [first.get(timeout=TIMEOUT), second.get(timeout=TIMEOUT)]

    assert sum(ran) == 100
    assert all(n > 0 for n in ran), ran  # both workers took a share
    calls = stripe_log.calls()
    assert sorted(key for key, _ in calls) == sorted(a.idempotency_key for a in actions)
    assert len({pid for _, pid in calls}) == 2
    assert stripe_log.charged() == {a.idempotency_key for a in actions}
    rows = DunningAction.objects.filter(pk__in=[a.pk for a in actions])
    assert set(rows.values_list("status", "runs")) == {(A.FAILED, 1)}
    assert (
        tasks.run_due_actions.apply_async(queue=celery_worker.queue).get(
            timeout=TIMEOUT
        )
        == 0
    )
