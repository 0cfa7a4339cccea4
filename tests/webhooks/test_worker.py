"""An order status move reaches a receiver through a real Celery worker.

Eager mode hides on_commit timing and JSON task arguments: here the relay and
the send run in another process, from the committed outbox row alone.
"""

import time

import pytest

from apps.checkout import services as checkout
from apps.checkout.models import Order
from apps.webhooks.models import Delivery
from apps.webhooks.services import endpoint_create

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    return predicate()


def test_worker_relays_order_paid_and_posts_it_once(receiver, celery_worker):
    receiver.statuses = [200]
    endpoint_create(url=receiver.url, event_types=["order.*"])
    order = Order.objects.create(
        number="W0RK-3R00", email="a@example.com", currency="EUR"
    )

    checkout.order_transition(order_id=order.pk, to="paid", source="test")

    delivery = _wait_for(lambda: Delivery.objects.filter(status="succeeded").first())
    assert delivery is not None, getattr(celery_worker, "stdout", None)
    assert delivery.event_type == "order.paid"
    assert delivery.attempts == 1
    assert len(receiver.requests) == 1
    assert receiver.requests[0].headers["Shop-Event-Type"] == "order.paid"
