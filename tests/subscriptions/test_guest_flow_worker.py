"""The guest saga in a real Celery worker (the services pass).

Eager mode hides serialisation and on_commit timing; here the confirm call
queues the saga on Redis and another process runs its steps. A duplicate
task (a broker redelivery) and a replayed webhook change nothing.
"""

import os
import signal
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts.models import User
from apps.billing import signals
from apps.core.models import Notification, OutboxEvent, Workflow
from apps.subscriptions.licence_models import LicenceKey, SubscribeFlow
from apps.subscriptions.models import Subscription
from apps.subscriptions.tasks import subscribe_flow_advance
from tests.conftest import start_celery_worker, stop_celery_worker
from tests.core.test_tasks import _unacked_tags
from tests.subscriptions.conftest import confirm

pytestmark = [
    pytest.mark.worker,
    pytest.mark.postgres,
    pytest.mark.localstripe,
    pytest.mark.django_db(transaction=True),
]


def _wait_for(predicate, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    return predicate()


def test_worker_runs_the_saga_once_across_redelivery(
    localstripe, celery_worker, api_client, pushed_price
):
    price = pushed_price(amount=1300)
    body = api_client.post(
        "/api/v1/subscribe/guest/",
        {"email": "worker@example.com", "price": price.pk},
        format="json",
    ).json()
    confirm(body["client_secret"])

    r = api_client.post(f"/api/v1/subscribe/guest/{body['flow']}/confirm/")
    assert r.status_code == 200
    flow = SubscribeFlow.objects.get(token=body["flow"])
    # The webhook of the same payment, and the task delivered twice.
    signals.subscription_event.send(
        sender="billing",
        stripe_id=flow.stripe_subscription_id,
        event_type="customer.subscription.updated",
    )
    subscribe_flow_advance.delay(flow.pk)

    assert _wait_for(
        lambda: SubscribeFlow.objects.filter(pk=flow.pk, status="completed").exists()
    ), celery_worker
    subscribe_flow_advance.delay(flow.pk)
    flow.refresh_from_db()
    assert _wait_for(
        lambda: Notification.objects.filter(
            kind="subscriptions.guest_welcome", status="sent"
        ).exists()
    )
    assert Subscription.objects.filter(user=flow.user).count() == 1
    assert LicenceKey.objects.filter(user=flow.user).count() == 1
    assert Notification.objects.filter(kind="subscriptions.guest_welcome").count() == 1


HOOKS = "tests.subscriptions.saga_worker_hooks"


@pytest.mark.parametrize("hang_at", ["subscription", "notification"])
def test_worker_killed_mid_saga_redelivers_and_duplicates_nothing(
    localstripe, api_client, pushed_price, monkeypatch, request, tmp_path, hang_at
):
    """SIGKILL the worker inside a step; a new worker finishes the saga once.

    The first worker imports ``saga_worker_hooks`` (WORKER_TEST_IMPORTS),
    which makes it stop for good at one point and touch a flag file there:
    in the subscription step after our Subscription row was committed but
    before the step was marked done, or inside the welcome email's send
    after the notification was claimed. The test waits for the flag, kills
    the worker's process group with SIGKILL (the OOM killer, a lost
    machine) and checks the task is still owed by Redis (acks_late). A new
    worker is started with a 15 s visibility timeout (production keeps
    kombu's hour), so Redis itself hands the dead worker's task back; the
    rerun finds what was committed and skips it. For the email, the dead
    worker's 15-minute sending lease is lapsed by hand first, as time would.
    """
    flag = tmp_path / "hanging"
    monkeypatch.setenv("WORKER_TEST_IMPORTS", HOOKS)
    monkeypatch.setenv("SAGA_TEST_HANG_FLAG", str(flag))
    if hang_at == "subscription":
        monkeypatch.setenv("SAGA_TEST_HANG_AT", "subscription")
    else:
        monkeypatch.setenv("WORKER_TEST_EMAIL_BACKEND", f"{HOOKS}.HangingEmailBackend")
    first = request.getfixturevalue("celery_worker")
    price = pushed_price(amount=1700, features={"devices": 2})
    body = api_client.post(
        "/api/v1/subscribe/guest/",
        {"email": "killed@example.com", "price": price.pk},
        format="json",
    ).json()
    confirm(body["client_secret"])
    assert (
        api_client.post(f"/api/v1/subscribe/guest/{body['flow']}/confirm/").status_code
        == 200
    )
    flow = SubscribeFlow.objects.get(token=body["flow"])

    assert _wait_for(flag.exists, timeout=180), "the worker never reached the step"
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=30)

    flow.refresh_from_db()
    assert (flow.status, flow.current_step) == ("processing", hang_at)
    assert Subscription.objects.filter(user=flow.user).count() == 1
    welcome = Notification.objects.filter(kind="subscriptions.guest_welcome")
    if hang_at == "subscription":
        assert flow.subscription_id is not None  # committed before the kill
        assert not LicenceKey.objects.exists()
        assert not welcome.exists()
    else:
        assert LicenceKey.objects.filter(user=flow.user).count() == 1
        assert welcome.get().status == Notification.Status.SENDING
        # What the 15-minute sending lease would do in time, done now.
        welcome.update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    # acks_late: the killed task is still owed by the broker, not lost.
    assert len(_unacked_tags(first.queue)) >= 1

    env = {
        key: value
        for key, value in first.env.items()
        if key not in {"SAGA_TEST_HANG_AT", "WORKER_TEST_EMAIL_BACKEND"}
    }
    second = start_celery_worker(
        first.queue, {**env, "WORKER_TEST_VISIBILITY_TIMEOUT": "15"}
    )
    try:
        done = _wait_for(
            lambda: SubscribeFlow.objects.filter(
                pk=flow.pk, status="completed"
            ).exists(),
            timeout=300,
        )
        # Let the queued send of the same email run too: it must find it sent.
        _wait_for(lambda: _unacked_tags(first.queue) == [], timeout=60)
    finally:
        log = stop_celery_worker(second)
    assert done, log[-4000:]

    flow.refresh_from_db()
    assert User.objects.filter(email="killed@example.com").count() == 1
    assert Subscription.objects.filter(user=flow.user).count() == 1
    assert Subscription.objects.get(user=flow.user).status == "active"
    assert LicenceKey.objects.filter(user=flow.user).count() == 1
    assert LicenceKey.objects.get(user=flow.user).status == "active"
    (note,) = welcome.all()
    # Sent, and handed to the mail server once: the killed send never was.
    assert (note.status, note.attempts) == (Notification.Status.SENT, 1)
    assert OutboxEvent.objects.filter(topic="subscribe_flow.completed").count() == 1
    assert not Workflow.objects.exclude(status="resolved").exists()
