"""Payment outcome: lapsed holds, amount mismatches and the stuck-payment sweep."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.db.models import F
from django.utils import timezone

from apps.billing import signals
from apps.billing.models import Payment
from apps.checkout import services
from apps.checkout.models import Order, ShippingMethod
from apps.core.models import Workflow
from apps.inventory import services as inventory_services
from apps.inventory.models import Reservation, StockItem
from apps.inventory.services import ReservationRequest
from tests.checkout.conftest import api_checkout_to_payment, confirm_card
from tests.checkout.factories import ShippingMethodFactory
from tests.checkout.test_refunds import _stripe_refunds
from tests.inventory.factories import VariantFactory

pytestmark = [pytest.mark.django_db, pytest.mark.localstripe]

# --- a lapsed hold that cannot be taken again goes through compensation ------


def _confirmed(api_client, make_cart, variant, quantity=2):
    """A guest checkout whose intent succeeded at Stripe (not finalised yet)."""
    cart = make_cart(lines=((variant, quantity),))
    method = _method()
    session = api_checkout_to_payment(api_client, cart, method=method)
    confirm_card(session["payment_intent_id"])
    return session


def _method():
    return ShippingMethod.objects.first() or ShippingMethodFactory(price_minor=500)


def _intent_amount(intent_id: str) -> dict:
    payment = Payment.objects.get(intent_id=intent_id)
    return {"amount_minor": payment.amount_minor, "currency": payment.currency}


def _send_succeeded(intent_id: str) -> None:
    signals.payment_succeeded.send(
        sender="billing",
        payment_intent_id=intent_id,
        # What Stripe would report: the intent's own amount.
        **_intent_amount(intent_id),
        metadata={},
        event_id=f"evt_{intent_id}",
    )


@pytest.mark.parametrize("change", ["deactivated", "max_per_order_lowered"])
def test_payment_succeeded_hold_lapsed_variant_changed_refunds_and_apologises(
    api_client, make_cart, localstripe, django_capture_on_commit_callbacks, change
):
    variant = VariantFactory(stock=5, weight_grams=100, price_minor=2000)
    session = _confirmed(api_client, make_cart, variant)
    Reservation.objects.filter(status="active").update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    # Sold elsewhere meanwhile: the commit has to hold the units again.
    inventory_services.stock_reserve(
        items=[ReservationRequest(variant.pk, 4)], ref="elsewhere", ttl=timedelta(1)
    )
    inventory_services.stock_commit(ref="elsewhere")
    if change == "deactivated":
        variant.is_active = False
        variant.save(update_fields=["is_active"])
    else:
        variant.max_per_order = 1
        variant.save(update_fields=["max_per_order"])

    with django_capture_on_commit_callbacks(execute=True):
        _send_succeeded(session["payment_intent_id"])

    order = Order.objects.get()
    assert order.status == "cancelled"
    assert order.refunded_minor == order.total_minor
    assert sum(_stripe_refunds(localstripe, order)) == order.total_minor
    assert [m.subject for m in mail.outbox] == [
        f"Sorry: we could not fulfil order {order.number}"
    ]
    assert StockItem.objects.get(variant=variant).on_hand == 1
    assert not Workflow.objects.exclude(status="resolved").exists()


# --- a lost webhook task is caught up by the sweep ---------------------------


def test_orders_finalize_stuck_paid_order_whose_task_was_lost_is_finalised(
    api_client, make_cart, localstripe, django_capture_on_commit_callbacks
):
    variant = VariantFactory(stock=5, weight_grams=100, price_minor=2000)
    paid = _confirmed(api_client, make_cart, variant)  # the webhook never came
    unpaid = _confirmed_not(api_client, make_cart)
    Order.objects.update(updated_at=timezone.now() - timedelta(minutes=30))
    fresh = _confirmed(api_client, make_cart, VariantFactory(stock=5, weight_grams=100))

    with django_capture_on_commit_callbacks(execute=True):
        done = services.orders_finalize_stuck()

    order = Order.objects.get(checkout_id=paid["checkout_id"])
    assert done == [order.number]
    assert order.status == "paid"
    assert StockItem.objects.get(variant=variant).on_hand == 3
    assert [m.subject for m in mail.outbox] == [
        f"Your order {order.number} is confirmed"
    ]
    assert Order.objects.get(checkout_id=unpaid["checkout_id"]).status == (
        "pending_payment"
    )
    # Recent orders are left to the webhook and the return page.
    assert Order.objects.get(checkout_id=fresh["checkout_id"]).status == (
        "pending_payment"
    )


def _confirmed_not(api_client, make_cart):
    """A checkout whose intent was created but never confirmed."""
    cart = make_cart(lines=((None, 1),))
    method = _method()
    return api_checkout_to_payment(api_client, cart, method=method)


def test_finalize_stuck_payments_is_on_the_beat_schedule(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["checkout.finalize_stuck_payments"]

    assert entry == {"task": "checkout.finalize_stuck_payments", "schedule": 300}


# --- the amount paid must be the order total ---------------------------------


def test_payment_succeeded_amount_differs_from_total_refunds_not_paid(
    api_client, make_cart, localstripe, django_capture_on_commit_callbacks
):
    variant = VariantFactory(stock=5, weight_grams=100, price_minor=2000)
    session = _confirmed(api_client, make_cart, variant)
    paid = Payment.objects.get(intent_id=session["payment_intent_id"]).amount_minor
    # The order's total moved on while the intent kept the old amount.
    Order.objects.update(total_minor=F("total_minor") + 1000)

    with django_capture_on_commit_callbacks(execute=True):
        _send_succeeded(session["payment_intent_id"])

    order = Order.objects.get()
    assert order.status == "cancelled"
    assert _stripe_refunds(localstripe, order) == [paid]
    assert order.refunded_minor == paid
    assert StockItem.objects.get(variant=variant).on_hand == 5
    assert [m.subject for m in mail.outbox] == [
        f"Sorry: we could not fulfil order {order.number}"
    ]
    assert "Paid" in order.events.get(to_status="cancelled").message
