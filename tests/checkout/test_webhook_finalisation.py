"""A real localstripe webhook finalises the order, with no /complete/ call.

The shopper drives the checkout through the API to the payment step and the
intent is confirmed at localstripe (as the mobile SDK would). localstripe then
posts ``payment_intent.succeeded`` to the live server; dj-stripe verifies and
stores it, billing re-emits it and checkout finalises the order from it. The
shopper's /complete/ afterwards finds the order paid and changes nothing.
A ``postgres`` test races /complete/ against the webhook delivery.
"""

from __future__ import annotations

import json

import pytest
from django.core import mail
from djstripe.models import WebhookEventTrigger
from rest_framework.test import APIClient

from apps.billing import gateway
from apps.billing.models import Payment
from apps.carts.models import Cart
from apps.checkout.models import Checkout, Order, OrderEvent
from apps.core.models import Notification
from apps.inventory.models import StockItem, StockMovement
from tests.billing import stripe_events
from tests.billing.conftest import wait_for
from tests.checkout.conftest import api_checkout_to_payment, confirm_card, idem
from tests.inventory.factories import VariantFactory
from tests.parallel import run_in_parallel

pytestmark = [pytest.mark.localstripe, pytest.mark.django_db(transaction=True)]

CONFIRMATION = "checkout.order_confirmation"


def _confirmation_sent(email: str) -> bool:
    return Notification.objects.filter(
        kind=CONFIRMATION, recipient=email, status=Notification.Status.SENT
    ).exists()


def test_payment_succeeded_webhook_alone_pays_order_then_complete_is_a_no_op(
    webhooks_to_live_server, api_client, make_cart, shipping_method, tax_rate
):
    cart = make_cart(lines=((None, 2),), stock=10, price=2000)
    variant_id = cart.lines.get().variant_id
    session = api_checkout_to_payment(
        api_client, cart, email="webhook@example.com", method=shipping_method
    )
    order = Order.objects.get(number=session["order_number"])
    assert order.status == "pending_payment"
    assert StockItem.objects.get(variant_id=variant_id).on_hand == 10

    confirmed = confirm_card(session["payment_intent_id"])
    assert confirmed.status == "succeeded"

    # Only localstripe's delivery can move the order: nobody calls /complete/.
    wait_for(lambda: Order.objects.filter(pk=order.pk, status="paid").exists())
    wait_for(lambda: _confirmation_sent("webhook@example.com"))

    # dj-stripe links the trigger to its event and marks it processed after
    # our handler has run: on a busy machine the order is paid first.
    delivered = WebhookEventTrigger.objects.filter(
        event__type="payment_intent.succeeded",
        event__data__object__id=session["payment_intent_id"],
        processed=True,
    )
    wait_for(delivered.exists)
    trigger = delivered.get()
    assert trigger.valid is True
    assert trigger.processed is True
    assert trigger.webhook_endpoint == webhooks_to_live_server
    order.refresh_from_db()
    assert order.paid_at is not None
    paid_events = OrderEvent.objects.filter(order=order, to_status="paid")
    assert [(e.from_status, e.source) for e in paid_events] == [
        ("pending_payment", "webhook")
    ]
    assert StockItem.objects.get(variant_id=variant_id).on_hand == 8
    sales = StockMovement.objects.filter(variant_id=variant_id, reason="sale")
    assert [m.quantity for m in sales] == [-2]
    assert Cart.objects.get(pk=cart.pk).status == "checked_out"
    assert Checkout.objects.get(pk=session["checkout_id"]).state == "completed"
    assert Payment.objects.get().status == "succeeded"
    assert Notification.objects.filter(kind=CONFIRMATION).count() == 1
    assert [m.to for m in mail.outbox] == [["webhook@example.com"]]
    assert order.number in mail.outbox[0].subject

    # The shopper's app returns and completes: same order, still paid, no
    # second email, no second transition or stock commit.
    r = api_client.post(
        f"/api/v1/checkouts/{session['checkout_id']}/complete/",
        format="json",
        **idem(),
    )

    assert r.status_code == 200, r.content
    body = r.json()
    assert body["number"] == order.number
    assert body["status"] == "paid"
    assert body["totals"]["total"]["amount"] == order.total_minor
    assert OrderEvent.objects.filter(order=order, to_status="paid").count() == 1
    sales = StockMovement.objects.filter(variant_id=variant_id, reason="sale")
    assert [m.quantity for m in sales] == [-2]
    assert StockItem.objects.get(variant_id=variant_id).on_hand == 8
    assert Notification.objects.filter(kind=CONFIRMATION).count() == 1
    assert len(mail.outbox) == 1


def _localstripe_event_body(event_type: str, object_id: str) -> str:
    """The event localstripe itself emitted for an object, as JSON to deliver."""
    client = gateway._client()
    events = client.v1.events.list({"type": event_type, "limit": 100})
    for event in events.auto_paging_iter():
        if event.data.object.id == object_id:
            return json.dumps(event.to_dict(recursive=True))
    pytest.fail(f"localstripe emitted no {event_type} for {object_id}")


@pytest.mark.postgres
# Which side wins and how far they overlap varies run to run; a few rounds
# make a lost lock show up (one round alone caught it about one time in three).
@pytest.mark.parametrize("attempt", range(3))
def test_complete_racing_payment_succeeded_webhook_finalises_once(
    localstripe, api_client, make_cart, shipping_method, tax_rate, attempt
):
    """The app's /complete/ and Stripe's webhook arrive at the same moment.

    The endpoint is not registered with localstripe: the test delivers
    localstripe's own ``payment_intent.succeeded``, correctly signed, itself,
    so both requests start together instead of whenever localstripe posts.
    """
    first = VariantFactory(stock=10, weight_grams=200, price_minor=2000)
    second = VariantFactory(stock=4, weight_grams=200, price_minor=1500)
    cart = make_cart(lines=((first, 2), (second, 1)))
    session = api_checkout_to_payment(
        api_client, cart, email="race@example.com", method=shipping_method
    )
    order = Order.objects.get(number=session["order_number"])
    confirmed = confirm_card(session["payment_intent_id"])
    assert confirmed.status == "succeeded"
    endpoint = stripe_events.webhook_endpoint()
    body = _localstripe_event_body(
        "payment_intent.succeeded", session["payment_intent_id"]
    )
    complete_url = f"/api/v1/checkouts/{session['checkout_id']}/complete/"

    def complete():
        r = APIClient().post(complete_url, format="json", **idem())
        return "complete", r.status_code, r.json()

    def webhook():
        return "webhook", stripe_events.deliver(endpoint, body).status_code, None

    results, errors = run_in_parallel([complete, webhook])

    assert errors == []
    outcome = {name: (status, payload) for name, status, payload in results}
    assert outcome["webhook"][0] == 200
    status, completed = outcome["complete"]
    assert status == 200, completed
    assert completed["number"] == order.number
    assert completed["status"] == "paid"
    trigger = WebhookEventTrigger.objects.get(webhook_endpoint=endpoint)
    assert trigger.valid is True
    assert trigger.processed is True
    order.refresh_from_db()
    assert order.status == "paid"
    paid = OrderEvent.objects.filter(order=order, to_status="paid")
    assert [e.from_status for e in paid] == ["pending_payment"]
    assert paid.get().source in ("webhook", "complete")
    sales = StockMovement.objects.filter(reason="sale").order_by("variant_id")
    assert [(m.variant_id, m.quantity) for m in sales] == [
        (first.pk, -2),
        (second.pk, -1),
    ]
    assert StockItem.objects.get(variant=first).on_hand == 8
    assert StockItem.objects.get(variant=second).on_hand == 3
    assert Cart.objects.get(pk=cart.pk).status == "checked_out"
    mails = Notification.objects.filter(kind=CONFIRMATION)
    assert [n.recipient for n in mails] == ["race@example.com"]
    assert [m.to for m in mail.outbox] == [["race@example.com"]]
    assert Payment.objects.get().status == "succeeded"
