"""Every order status move publishes order.<status>, so endpoints hear of it."""

import json

import pytest

from apps.checkout import services as checkout
from apps.checkout.models import Order
from apps.core.models import OutboxEvent
from apps.core.outbox import outbox_relay
from apps.webhooks.models import Delivery
from apps.webhooks.services import endpoint_create

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("path", "topics"),
    [
        (["paid", "fulfilled"], ["order.paid", "order.fulfilled"]),
        (["cancelled"], ["order.cancelled"]),
        (["paid", "refunded"], ["order.paid", "order.refunded"]),
    ],
)
def test_order_status_moves_publish_order_events(path, topics):
    endpoint_create(url="https://hooks.example.com/", event_types=["order.*"])
    order = Order.objects.create(
        number="K7Q4-MXPA", email="a@example.com", currency="EUR", total_minor=1999
    )
    for status in path:
        checkout.order_transition(order_id=order.pk, to=status, source="test")
    checkout.order_transition(order_id=order.pk, to=path[-1])  # no-op: no event
    outbox_relay()

    events = list(OutboxEvent.objects.filter(topic__startswith="order."))
    assert [e.topic for e in events] == topics
    bodies = [json.loads(d.body) for d in Delivery.objects.order_by("event_id")]
    assert [b["type"] for b in bodies] == topics
    assert [b["object"]["version"] for b in bodies] == list(range(1, len(path) + 1))
    assert bodies[-1]["data"]["order"] == "K7Q4-MXPA"
    assert bodies[-1]["data"]["status"] == path[-1]
    assert bodies[-1]["data"]["total"] == {"amount": 1999, "currency": "EUR"}
