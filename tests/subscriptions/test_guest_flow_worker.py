"""The guest saga in a real Celery worker (the services pass).

Eager mode hides serialisation and on_commit timing; here the confirm call
queues the saga on Redis and another process runs its steps. A duplicate
task (a broker redelivery) and a replayed webhook change nothing.
"""

import time

import pytest

from apps.billing import signals
from apps.core.models import Notification
from apps.subscriptions.licence_models import LicenceKey, SubscribeFlow
from apps.subscriptions.models import Subscription
from apps.subscriptions.tasks import subscribe_flow_advance
from tests.subscriptions.conftest import confirm

pytestmark = [
    pytest.mark.worker,
    pytest.mark.postgres,
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
