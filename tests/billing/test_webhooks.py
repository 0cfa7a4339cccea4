"""Webhooks end to end: localstripe -> live server -> dj-stripe -> billing."""

import json
import uuid

import pytest
from django.test import Client
from djstripe.models import Customer, Event, WebhookEventTrigger
from djstripe.signals import WEBHOOK_SIGNALS

from apps.billing import gateway, signals
from apps.billing.gateway import testing
from tests.billing.conftest import wait_for

pytestmark = [pytest.mark.localstripe, pytest.mark.django_db(transaction=True)]


def test_customer_create_after_dev_setup_webhook_is_verified_and_stored(
    webhooks_to_live_server,
):
    email = f"buyer-{uuid.uuid4().hex[:8]}@example.com"

    customer = gateway.customer_create(
        email=email, name="Ada Buyer", idempotency_key=str(uuid.uuid4())
    )

    # dj-stripe stores the Event before it links the trigger to it and marks
    # it processed: wait for the trigger, or a busy machine sees the gap.
    trigger = wait_for(
        lambda: WebhookEventTrigger.objects.filter(
            event__type="customer.created",
            event__data__object__id=customer.id,
            processed=True,
        ).first()
    )
    assert trigger.valid is True
    assert trigger.processed is True
    assert trigger.webhook_endpoint == webhooks_to_live_server
    mirrored = Customer.objects.get(id=customer.id)
    assert mirrored.email == email
    assert mirrored.name == "Ada Buyer"


def test_webhook_with_bad_signature_is_rejected_without_event_or_handler(
    webhooks_to_live_server, record_signal
):
    called = record_signal(WEBHOOK_SIGNALS["customer.created"])
    body = json.dumps(
        {
            "id": "evt_forged0000000001",
            "object": "event",
            "type": "customer.created",
            "livemode": False,
            "api_version": "2017-08-15",
            "created": 1_700_000_000,
            "data": {"object": {"id": "cus_forged", "object": "customer"}},
        }
    )
    url = f"/stripe/webhook/{webhooks_to_live_server.djstripe_uuid}/"

    response = Client().post(
        url,
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE="t=1700000000,v1=" + "0" * 64,
    )

    assert 400 <= response.status_code < 500
    assert not Event.objects.filter(id="evt_forged0000000001").exists()
    assert WebhookEventTrigger.objects.get().valid is False
    assert called.calls == []


def test_forged_payment_succeeded_webhook_pays_nothing(
    webhooks_to_live_server, record_signal
):
    """A forged "payment succeeded" is the one an attacker would send."""
    received = record_signal(signals.payment_succeeded)
    body = json.dumps(
        {
            "id": "evt_forged0000000002",
            "object": "event",
            "type": "payment_intent.succeeded",
            "livemode": False,
            "api_version": "2017-08-15",
            "created": 1_700_000_000,
            "data": {
                "object": {
                    "id": "pi_forged",
                    "object": "payment_intent",
                    "amount": 2599,
                    "amount_received": 2599,
                    "currency": "eur",
                    "status": "succeeded",
                    "metadata": {"order_id": "1"},
                }
            },
        }
    )

    response = Client().post(
        f"/stripe/webhook/{webhooks_to_live_server.djstripe_uuid}/",
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE="t=1700000000,v1=" + "0" * 64,
    )

    assert 400 <= response.status_code < 500
    assert not Event.objects.filter(id="evt_forged0000000002").exists()
    assert received.calls == []


def test_payment_intent_succeeded_webhook_emits_payment_succeeded_once(
    webhooks_to_live_server, record_signal
):
    received = record_signal(signals.payment_succeeded)
    intent = gateway.payment_intent_create(
        amount_minor=2599,
        currency="EUR",
        metadata={"order_id": "42"},
        idempotency_key=str(uuid.uuid4()),
    )

    testing.payment_intent_confirm_with_test_card(
        payment_intent_id=intent.id, card_number="4242424242424242"
    )

    trigger = wait_for(
        lambda: WebhookEventTrigger.objects.filter(
            event__type="payment_intent.succeeded",
            event__data__object__id=intent.id,
        ).first()
    )
    assert received.calls == [
        {
            "sender": "billing",
            "payment_intent_id": intent.id,
            "amount_minor": 2599,
            "currency": "EUR",
            "metadata": {"order_id": "42"},
            "event_id": trigger.event_id,
        }
    ]

    # Stripe redelivers: the identical, still correctly signed request again.
    replay = Client().post(
        f"/stripe/webhook/{webhooks_to_live_server.djstripe_uuid}/",
        data=trigger.body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=trigger.headers["Stripe-Signature"],
    )

    assert replay.status_code == 200
    assert len(received.calls) == 1
    assert Event.objects.filter(id=trigger.event_id).count() == 1


def test_payment_intent_declined_webhook_emits_payment_failed(
    webhooks_to_live_server, record_signal
):
    failed = record_signal(signals.payment_failed)
    intent = gateway.payment_intent_create(
        amount_minor=1000, currency="eur", idempotency_key=str(uuid.uuid4())
    )

    with pytest.raises(Exception, match="declined"):
        testing.payment_intent_confirm_with_test_card(
            payment_intent_id=intent.id, card_number="4000000000000002"
        )

    wait_for(lambda: failed.calls)
    assert failed.calls[0]["payment_intent_id"] == intent.id
    assert failed.calls[0]["amount_minor"] == 1000
    assert failed.calls[0]["currency"] == "EUR"
