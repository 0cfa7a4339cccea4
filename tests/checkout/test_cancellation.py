"""pending_payment → cancelled: a cancelled intent (webhook) or an order left
unpaid too long (beat sweep), against localstripe."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from apps.billing import gateway
from apps.billing.gateway import testing
from apps.billing.models import Payment
from apps.checkout import services, tasks
from apps.checkout.models import Checkout, Order, OrderEvent
from apps.inventory import selectors as inventory_selectors
from apps.inventory.models import Reservation
from tests.billing.stripe_events import deliver, event_body, webhook_endpoint
from tests.checkout.conftest import api_checkout_to_payment, confirm_card, idem

pytestmark = [pytest.mark.django_db, pytest.mark.localstripe]


def _reservations(checkout_id):
    return set(
        inventory_selectors.reservations_for_ref(
            ref=f"checkout:{checkout_id}"
        ).values_list("status", flat=True)
    )


def _age(order_number: str, minutes: int) -> None:
    Order.objects.filter(number=order_number).update(
        updated_at=timezone.now() - timedelta(minutes=minutes)
    )


def test_canceled_webhook_cancels_pending_order_once_and_releases_stock(
    api_client, make_cart, shipping_method, localstripe
):
    session = api_checkout_to_payment(api_client, make_cart(), method=shipping_method)
    intent = testing.payment_intent_cancel_payload(
        payment_intent_id=session["payment_intent_id"]
    )
    assert intent["status"] == "canceled"
    endpoint = webhook_endpoint()
    body = event_body("payment_intent.canceled", intent)

    responses = [
        deliver(endpoint, body),  # Stripe redelivers the same event
        deliver(endpoint, body),
        deliver(endpoint, event_body("payment_intent.canceled", intent)),  # new id
    ]

    assert [r.status_code for r in responses] == [200, 200, 200]
    order = Order.objects.get(number=session["order_number"])
    assert order.status == Order.Status.CANCELLED
    assert order.cancelled_at is not None
    events = OrderEvent.objects.filter(order=order, to_status="cancelled")
    assert [(e.from_status, e.source) for e in events] == [
        ("pending_payment", "webhook")
    ]
    assert _reservations(session["checkout_id"]) == {Reservation.Status.RELEASED}
    assert Payment.objects.get().status == "canceled"


def test_canceled_webhook_then_payment_again_gets_new_order_and_new_intent(
    api_client, make_cart, shipping_method, localstripe
):
    session = api_checkout_to_payment(api_client, make_cart(), method=shipping_method)
    intent = testing.payment_intent_cancel_payload(
        payment_intent_id=session["payment_intent_id"]
    )
    deliver(webhook_endpoint(), event_body("payment_intent.canceled", intent))

    r = api_client.post(
        f"/api/v1/checkouts/{session['checkout_id']}/payment/", format="json", **idem()
    )

    assert r.status_code == 200, r.content
    again = r.json()
    assert again["order_number"] != session["order_number"]
    # Not Stripe's replay of the cancelled intent's creation.
    assert again["payment_intent_id"] != session["payment_intent_id"]
    fresh = gateway.payment_intent_retrieve(
        payment_intent_id=again["payment_intent_id"]
    )
    assert fresh.status == "requires_payment_method"
    confirm_card(again["payment_intent_id"])
    order = services.checkout_complete(
        checkout=Checkout.objects.get(pk=session["checkout_id"])
    )
    assert order.status == Order.Status.PAID


def test_canceled_webhook_of_replaced_intent_leaves_order_pending(
    api_client, make_cart, shipping_method, localstripe
):
    """The total changed and a new intent replaced the old one: the old one's
    cancellation must not cancel the order."""
    session = api_checkout_to_payment(api_client, make_cart(), method=shipping_method)
    old = Payment.objects.get()
    replacement = gateway.payment_intent_create(
        amount_minor=old.amount_minor,
        currency=old.currency,
        metadata={"reference": old.reference},
        idempotency_key="replacement",
    )
    Payment.objects.create(
        intent_id=replacement.id,
        reference=old.reference,
        amount_minor=old.amount_minor,
        currency=old.currency,
        status="requires_payment_method",
        idempotency_key="replacement",
    )
    intent = testing.payment_intent_cancel_payload(payment_intent_id=old.intent_id)

    deliver(webhook_endpoint(), event_body("payment_intent.canceled", intent))

    assert Order.objects.get().status == Order.Status.PENDING_PAYMENT
    assert _reservations(session["checkout_id"]) == {Reservation.Status.ACTIVE}


def test_sweep_cancels_old_pending_order_and_its_intent_in_stripe(
    api_client, make_cart, shipping_method, localstripe
):
    old = api_checkout_to_payment(api_client, make_cart(), method=shipping_method)
    recent = api_checkout_to_payment(api_client, make_cart(), method=shipping_method)
    _age(old["order_number"], 61)

    cancelled = services.orders_cancel_abandoned()

    assert cancelled == [old["order_number"]]
    order = Order.objects.get(number=old["order_number"])
    assert order.status == Order.Status.CANCELLED
    assert OrderEvent.objects.get(order=order, to_status="cancelled").source == "sweep"
    assert _reservations(old["checkout_id"]) == {Reservation.Status.RELEASED}
    stripe_side = gateway.payment_intent_retrieve(
        payment_intent_id=old["payment_intent_id"]
    )
    assert stripe_side.status == "canceled"
    assert Payment.objects.get(intent_id=old["payment_intent_id"]).status == "canceled"
    # Younger than the limit: untouched, its intent still payable.
    assert (
        Order.objects.get(number=recent["order_number"]).status
        == Order.Status.PENDING_PAYMENT
    )
    assert (
        gateway.payment_intent_retrieve(
            payment_intent_id=recent["payment_intent_id"]
        ).status
        == "requires_payment_method"
    )
    # Run again (beat overlaps, redelivery): nothing more happens.
    assert services.orders_cancel_abandoned() == []
    assert OrderEvent.objects.filter(order=order, to_status="cancelled").count() == 1


def test_sweep_finalises_instead_when_stripe_says_the_intent_succeeded(
    api_client, make_cart, shipping_method, localstripe
):
    session = api_checkout_to_payment(api_client, make_cart(), method=shipping_method)
    confirm_card(session["payment_intent_id"])  # paid; the webhook never came
    _age(session["order_number"], 120)

    assert services.orders_cancel_abandoned() == []

    order = Order.objects.get(number=session["order_number"])
    assert order.status == Order.Status.PAID
    assert OrderEvent.objects.get(order=order, to_status="paid").source == "sweep"
    assert (
        gateway.payment_intent_retrieve(
            payment_intent_id=session["payment_intent_id"]
        ).status
        == "succeeded"
    )


def test_sweep_age_is_configurable(
    api_client, make_cart, shipping_method, localstripe, settings
):
    session = api_checkout_to_payment(api_client, make_cart(), method=shipping_method)
    _age(session["order_number"], 20)
    assert services.orders_cancel_abandoned() == []  # default: one hour

    settings.CHECKOUT_PENDING_ORDER_MAX_AGE = 15  # minutes

    assert services.orders_cancel_abandoned() == [session["order_number"]]


def test_cancel_abandoned_orders_task_is_on_the_beat_schedule(
    api_client, make_cart, shipping_method, localstripe
):
    entry = settings.CELERY_BEAT_SCHEDULE["checkout.cancel_abandoned_orders"]
    assert entry["task"] == tasks.cancel_abandoned_orders.name
    session = api_checkout_to_payment(api_client, make_cart(), method=shipping_method)
    _age(session["order_number"], 61)

    assert tasks.cancel_abandoned_orders.apply().get() == 1
    assert Order.objects.get().status == Order.Status.CANCELLED


def test_sweep_cancels_pending_order_once_its_stock_hold_expires(
    api_client, make_cart, shipping_method, localstripe
):
    from apps.core.models import AuditLog

    session = api_checkout_to_payment(api_client, make_cart(), method=shipping_method)
    ref = f"checkout:{session['checkout_id']}"
    # The hold lapsed (15 min TTL) though the order was touched a minute ago:
    # well under CHECKOUT_PENDING_ORDER_MAX_AGE.
    Reservation.objects.filter(ref=ref).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    _age(session["order_number"], 1)

    assert services.orders_cancel_abandoned() == [session["order_number"]]

    order = Order.objects.get(number=session["order_number"])
    assert order.status == Order.Status.CANCELLED
    assert OrderEvent.objects.get(order=order, to_status="cancelled").source == "sweep"
    assert (
        gateway.payment_intent_retrieve(
            payment_intent_id=session["payment_intent_id"]
        ).status
        == "canceled"
    )
    audit = AuditLog.objects.get(
        action="order_abandoned_cancelled", object_id=str(order.pk)
    )
    assert audit.data["intent"] == session["payment_intent_id"]
    assert _reservations(session["checkout_id"]) == {Reservation.Status.RELEASED}
    # Again (beat overlap): nothing more is cancelled, released or audited.
    assert services.orders_cancel_abandoned() == []
    assert OrderEvent.objects.filter(order=order, to_status="cancelled").count() == 1
    assert AuditLog.objects.filter(action="order_abandoned_cancelled").count() == 1


def test_sweep_leaves_pending_order_whose_stock_hold_is_live(
    api_client, make_cart, shipping_method, localstripe
):
    session = api_checkout_to_payment(api_client, make_cart(), method=shipping_method)
    _age(session["order_number"], 5)

    assert services.orders_cancel_abandoned() == []
    assert (
        Order.objects.get(number=session["order_number"]).status
        == Order.Status.PENDING_PAYMENT
    )
