"""Customers, saved cards (SetupIntents) and refunds against localstripe."""

import uuid

import pytest

from apps.billing import gateway
from apps.billing.gateway import IntentStatus, RefundStatus, testing

pytestmark = [pytest.mark.localstripe, pytest.mark.django_db]


def key() -> str:
    return str(uuid.uuid4())


def test_customer_retrieve_returns_created_customer(localstripe):
    created = gateway.customer_create(
        email="r@example.com",
        name="Rita",
        metadata={"user": "7"},
        idempotency_key=key(),
    )

    fetched = gateway.customer_retrieve(customer_id=created.id)

    assert (fetched.email, fetched.name, fetched.metadata) == (
        "r@example.com",
        "Rita",
        {"user": "7"},
    )
    assert fetched.default_payment_method is None


def test_customer_update_default_payment_method_is_stored(localstripe):
    customer = gateway.customer_create(email="d@example.com", idempotency_key=key())
    method = testing.card_payment_method_create(number=testing.CARD_OK)
    attached = gateway.payment_method_attach(
        payment_method_id=method.id, customer_id=customer.id
    )

    updated = gateway.customer_update(
        customer_id=customer.id, default_payment_method=method.id, name="Dee"
    )

    assert attached.customer == customer.id
    assert attached.card_last4 == "4242"
    assert updated.default_payment_method == method.id
    assert gateway.customer_retrieve(customer_id=customer.id).name == "Dee"


def test_setup_intent_create_for_customer_awaits_payment_method(localstripe):
    customer = gateway.customer_create(email="s@example.com", idempotency_key=key())

    setup = gateway.setup_intent_create(
        customer_id=customer.id, idempotency_key=key(), metadata={"plan": "pro"}
    )
    fetched = gateway.setup_intent_retrieve(setup_intent_id=setup.id)

    assert setup.id.startswith("seti_")
    assert setup.client_secret
    assert fetched.status is IntentStatus.REQUIRES_PAYMENT_METHOD
    assert fetched.customer == customer.id


def test_setup_intent_create_same_key_returns_same_intent(localstripe):
    customer = gateway.customer_create(email="k@example.com", idempotency_key=key())
    same = key()

    first = gateway.setup_intent_create(customer_id=customer.id, idempotency_key=same)
    second = gateway.setup_intent_create(customer_id=customer.id, idempotency_key=same)

    assert first.id == second.id


def test_refund_retrieve_returns_refund_of_paid_intent(localstripe):
    intent = gateway.payment_intent_create(
        amount_minor=2000, currency="EUR", idempotency_key=key()
    )
    testing.payment_intent_confirm_with_test_card(
        payment_intent_id=intent.id, card_number=testing.CARD_OK
    )
    refund = gateway.refund_create(
        payment_intent_id=intent.id, amount_minor=700, idempotency_key=key()
    )

    fetched = gateway.refund_retrieve(refund_id=refund.id)

    assert fetched.status is RefundStatus.SUCCEEDED
    assert (fetched.amount_minor, fetched.currency) == (700, "EUR")
    assert fetched.payment_intent == intent.id
