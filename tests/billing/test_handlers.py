"""dj-stripe's payment_intent.canceled → billing's payment_canceled, once."""

import uuid

import pytest

from apps.billing import gateway, signals
from apps.billing.gateway import testing
from tests.billing.stripe_events import deliver, event_body, webhook_endpoint

pytestmark = [pytest.mark.localstripe, pytest.mark.django_db]


def test_payment_intent_canceled_webhook_emits_payment_canceled_once(
    localstripe, record_signal
):
    received = record_signal(signals.payment_canceled)
    created = gateway.payment_intent_create(
        amount_minor=1500,
        currency="EUR",
        metadata={"order_number": "ABCD-EFGH"},
        idempotency_key=str(uuid.uuid4()),
    )
    gateway.payment_intent_cancel(payment_intent_id=created.id)
    intent = testing.payment_intent_payload(payment_intent_id=created.id)
    endpoint = webhook_endpoint()
    body = event_body(
        "payment_intent.canceled", {**intent, "cancellation_reason": "abandoned"}
    )

    first = deliver(endpoint, body)
    redelivered = deliver(endpoint, body)

    assert (first.status_code, redelivered.status_code) == (200, 200)
    assert len(received.calls) == 1
    call = received.calls[0]
    assert call["sender"] == "billing"
    assert call["payment_intent_id"] == created.id
    assert call["amount_minor"] == 1500
    assert call["currency"] == "EUR"
    assert call["metadata"] == {"order_number": "ABCD-EFGH"}
    assert call["cancellation_reason"] == "abandoned"
    assert call["event_id"].startswith("evt_")
