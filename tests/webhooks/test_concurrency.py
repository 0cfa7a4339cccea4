"""Two workers handed the same delivery at once: the receiver gets one POST."""

import pytest
from django.utils import timezone

from apps.core.models import OutboxEvent
from apps.webhooks.models import Delivery, DeliveryAttempt
from apps.webhooks.services import delivery_send, endpoint_create
from apps.webhooks.services.deliveries import envelope_body
from tests.parallel import run_in_parallel

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_delivery_send_twice_at_once_posts_once(receiver):
    endpoint, _secret = endpoint_create(url=receiver.url, event_types=["order.*"])
    # Written directly: the receiver's after-commit send would go at once.
    event = OutboxEvent.objects.create(topic="order.paid", payload={"order": "A"})
    delivery = Delivery.objects.create(
        endpoint=endpoint,
        event_id=event.pk,
        event_type=event.topic,
        body=envelope_body(event),
        window_started_at=timezone.now(),
        next_attempt_at=timezone.now(),
    )

    results, errors = run_in_parallel(
        [lambda: delivery_send(delivery_id=delivery.pk) for _ in range(2)]
    )

    assert errors == []
    assert sorted(r is None for r in results) == [False, True]
    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 1)
    assert DeliveryAttempt.objects.count() == 1
