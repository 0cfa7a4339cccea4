"""Only Stripe's word pays an order: a webhook is a hint to go and ask Stripe.

A forged event (signed with a secret of the sender's choosing, which dj-stripe
accepts through ``X-Djstripe-Webhook-Secret`` when DEBUG is on) is refused
whatever DEBUG says. A correctly signed event is still not trusted on its own:
billing retrieves the PaymentIntent and checks its status, amount, currency and
metadata before anything is finalised.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from django.core import mail
from django.test import Client, override_settings
from djstripe.models import Event

from apps.billing.gateway import testing
from apps.checkout.models import Order
from tests.billing import stripe_events
from tests.checkout.conftest import api_checkout_to_payment, confirm_card

pytestmark = [pytest.mark.localstripe, pytest.mark.django_db]

ATTACKER_SECRET = "whsec_chosen_by_the_sender"


def _pending_order(api_client, make_cart, shipping_method) -> tuple[Order, dict]:
    cart = make_cart(lines=((None, 1),), stock=5, price=2000)
    session = api_checkout_to_payment(
        api_client, cart, email="trust@example.com", method=shipping_method
    )
    order = Order.objects.get(number=session["order_number"])
    assert order.status == "pending_payment"
    return order, session


def _succeeded_event_for(intent_id: str) -> tuple[str, dict]:
    """The event a forger writes: Stripe's own intent, claimed as paid."""
    intent = testing.payment_intent_payload(payment_intent_id=intent_id)
    claimed = {**intent, "status": "succeeded", "amount_received": intent["amount"]}
    return stripe_events.event_body("payment_intent.succeeded", claimed), claimed


def _post_signed_with(endpoint, body: str, secret: str, **headers):
    timestamp = int(time.time())
    signature = hmac.new(
        secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256
    ).hexdigest()
    return Client().post(
        f"/stripe/webhook/{endpoint.djstripe_uuid}/",
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=f"t={timestamp},v1={signature}",
        **headers,
    )


@pytest.mark.parametrize("debug", [True, False], ids=["debug-on", "debug-off"])
def test_webhook_secret_header_forged_event_changes_nothing(
    debug,
    localstripe,
    api_client,
    make_cart,
    shipping_method,
    tax_rate,
    django_capture_on_commit_callbacks,
):
    order, session = _pending_order(api_client, make_cart, shipping_method)
    endpoint = stripe_events.webhook_endpoint()
    body, _ = _succeeded_event_for(session["payment_intent_id"])
    event_id = json.loads(body)["id"]
    mail.outbox.clear()

    with (
        override_settings(DEBUG=debug),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = _post_signed_with(
            endpoint,
            body,
            ATTACKER_SECRET,
            HTTP_X_DJSTRIPE_WEBHOOK_SECRET=ATTACKER_SECRET,
        )

    assert response.status_code == 400
    order.refresh_from_db()
    assert order.status == "pending_payment"
    assert order.paid_at is None
    assert not Event.objects.filter(id=event_id).exists()
    assert mail.outbox == []


def test_webhook_signed_succeeded_event_for_unpaid_intent_changes_nothing(
    localstripe,
    api_client,
    make_cart,
    shipping_method,
    tax_rate,
    django_capture_on_commit_callbacks,
):
    """Correctly signed, but Stripe says the intent still needs a card."""
    order, session = _pending_order(api_client, make_cart, shipping_method)
    endpoint = stripe_events.webhook_endpoint()
    body, _ = _succeeded_event_for(session["payment_intent_id"])
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = stripe_events.deliver(endpoint, body)

    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == "pending_payment"
    assert order.paid_at is None
    assert mail.outbox == []


def test_webhook_signed_succeeded_event_claiming_other_amount_changes_nothing(
    localstripe,
    api_client,
    make_cart,
    shipping_method,
    tax_rate,
    django_capture_on_commit_callbacks,
):
    """The intent is paid at Stripe, but the event lies about what was paid:
    the order is finalised from Stripe's figures, never from the event's."""
    order, session = _pending_order(api_client, make_cart, shipping_method)
    assert confirm_card(session["payment_intent_id"]).status == "succeeded"
    endpoint = stripe_events.webhook_endpoint()
    body, claimed = _succeeded_event_for(session["payment_intent_id"])
    lying = json.loads(body)
    lying["data"]["object"]["amount"] = claimed["amount"] + 1
    lying["data"]["object"]["metadata"] = {"order_number": "SOMEONE-ELSE"}

    with django_capture_on_commit_callbacks(execute=True):
        response = stripe_events.deliver(endpoint, json.dumps(lying))

    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == "pending_payment"


def test_webhook_signed_event_for_unknown_intent_answers_client_error_or_ok(
    localstripe, django_capture_on_commit_callbacks
):
    endpoint = stripe_events.webhook_endpoint()
    body = stripe_events.event_body(
        "payment_intent.succeeded",
        {
            "id": "pi_unknown_to_stripe_0000000",
            "object": "payment_intent",
            "amount": 2599,
            "amount_received": 2599,
            "currency": "usd",
            "status": "succeeded",
            "metadata": {},
        },
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = stripe_events.deliver(endpoint, body)

    assert response.status_code in (200, 400)
    assert not Order.objects.filter(status="paid").exists()
