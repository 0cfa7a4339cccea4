"""Billing services: payment_intent_ensure against localstripe (a cancelled
intent's key is not replayed for its replacement) and how a Stripe intent is
recorded on our Payment row."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.billing import gateway, services
from apps.billing.gateway import IntentStatus, PaymentIntentSnapshot
from apps.billing.models import Payment
from tests.billing.factories import PaymentFactory

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


def _snapshot(payment, status, amount_minor=None):
    return PaymentIntentSnapshot(
        id=payment.intent_id,
        status=status,
        amount_minor=amount_minor or payment.amount_minor,
        currency=payment.currency,
        client_secret="",
    )


@pytest.mark.parametrize("terminal", [IntentStatus.SUCCEEDED, IntentStatus.CANCELED])
def test_record_stale_open_intent_after_terminal_keeps_row(terminal):
    payment = PaymentFactory(status=terminal.value)

    kept = services._record(_snapshot(payment, IntentStatus.REQUIRES_ACTION))

    assert kept.status == terminal
    assert Payment.objects.get(pk=payment.pk).status == terminal


def test_record_success_in_place_stamps_and_mirrors_row():
    payment = PaymentFactory(status=IntentStatus.REQUIRES_ACTION.value)

    with CaptureQueriesContext(connection) as queries:
        recorded = services._record(
            _snapshot(payment, IntentStatus.SUCCEEDED), payment=payment
        )

    assert len(queries) == 1
    fresh = Payment.objects.get(pk=payment.pk)
    assert recorded is payment
    assert (recorded.status, fresh.status) == ("succeeded", "succeeded")
    assert fresh.succeeded_at is not None
