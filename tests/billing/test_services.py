"""payment_intent_ensure against localstripe: a cancelled intent's key is not
replayed for its replacement."""

import uuid

import pytest

from apps.billing import gateway, services

pytestmark = [pytest.mark.localstripe, pytest.mark.django_db]


def test_payment_intent_ensure_after_cancel_same_key_creates_new_intent(localstripe):
    key = f"checkout:{uuid.uuid4()}:ORDR-0001:v1"
    first = services.payment_intent_ensure(
        reference="ORDR-0001",
        amount_minor=1200,
        currency="EUR",
        idempotency_key=key,
    )
    services.payment_cancel(payment=first)

    second = services.payment_intent_ensure(
        reference="ORDR-0001",
        amount_minor=1200,
        currency="EUR",
        idempotency_key=key,
    )

    assert second.intent_id != first.intent_id
    assert second.status == "requires_payment_method"
    fetched = gateway.payment_intent_retrieve(payment_intent_id=second.intent_id)
    assert fetched.status == "requires_payment_method"
