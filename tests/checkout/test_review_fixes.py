"""Defects a review found in refunds, finalisation and the webhook path.

Each test failed before its fix; the PostgreSQL ones run real threads.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import requests
from django.core import mail
from django.db import connection
from django.db.models import F
from django.utils import timezone

from apps.billing import gateway, signals
from apps.billing.models import Payment, PaymentRefund
from apps.checkout import services
from apps.checkout.models import FailedWorkflow, Order, ShippingMethod
from apps.inventory import services as inventory_services
from apps.inventory.models import Reservation, StockItem, StockMovement
from apps.inventory.services import ReservationRequest
from tests.checkout.conftest import api_checkout_to_payment, confirm_card, idem
from tests.checkout.factories import ShippingMethodFactory, TaxRateFactory
from tests.inventory.factories import VariantFactory

pytestmark = [pytest.mark.django_db, pytest.mark.localstripe]


def _pay(api_client, make_cart, *, lines, price=2000, stock=10, tax_bp=1000):
    """A guest order paid through the API against localstripe."""
    method = ShippingMethodFactory(price_minor=500)
    if tax_bp:
        TaxRateFactory(basis_points=tax_bp)
    cart = make_cart(lines=lines, stock=stock, price=price)
    session = api_checkout_to_payment(api_client, cart, method=method)
    confirm_card(session["payment_intent_id"])
    r = api_client.post(
        f"/api/v1/checkouts/{session['checkout_id']}/complete/",
        format="json",
        **idem(),
    )
    assert r.json()["status"] == "paid", r.content
    mail.outbox.clear()
    return Order.objects.get(number=r.json()["number"])


def _stripe_refunds(localstripe, order) -> list[int]:
    payment = Payment.objects.get(reference=order.number)
    r = requests.get(
        f"{localstripe}/v1/refunds",
        params={"payment_intent": payment.intent_id},
        auth=(gateway.secret_key(), ""),
        timeout=10,
    )
    return [refund["amount"] for refund in r.json()["data"]]


def _on_hand(line) -> int:
    return StockItem.objects.get(variant_id=line.variant_id).on_hand


# --- 1. a double-clicked partial refund is counted once -------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_order_refund_double_submitted_in_parallel_counted_once(
    api_client, make_cart, localstripe
):
    order = _pay(api_client, make_cart, lines=((None, 2),))
    line = order.lines.get()
    stock_before = _on_hand(line)
    barrier = threading.Barrier(2)
    results: list = [None, None]

    def click(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = services.order_refund(
                order=order, line_quantities={line.pk: 1}, restock=True
            )
        except Exception as exc:  # reported below
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=click, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    order.refresh_from_db()
    line.refresh_from_db()
    stripe = _stripe_refunds(localstripe, order)
    # Whatever Stripe did with the two clicks, the books match it exactly.
    assert sum(stripe) == order.refunded_minor
    assert order.refunded_minor == 2200 * line.refunded_quantity
    assert line.refunded_minor == order.refunded_minor
    assert _on_hand(line) == stock_before + line.refunded_quantity
    assert StockMovement.objects.filter(reason="return").count() == len(stripe)
    # Both clicks carried the same idempotency key: one refund of one unit.
    assert stripe == [2200], results
    assert order.status == "partially_refunded"
    assert Payment.objects.get(reference=order.number).amount_refunded_minor == 2200


def test_order_refund_same_refund_applied_twice_counted_once(
    api_client, make_cart, localstripe
):
    """The second click's refund row (replayed by key) is not applied again."""
    order = _pay(api_client, make_cart, lines=((None, 2),))
    line = order.lines.get()
    payment = Payment.objects.get(reference=order.number)
    stale_key = f"refund:{order.number}:0:2200"
    services.order_refund(order=order, line_quantities={line.pk: 1}, restock=True)
    # A second click that read the order before the first one committed builds
    # the same key; billing hands back the same refund row.
    from apps.billing import services as billing_services

    replay = billing_services.payment_refund(
        payment=payment, idempotency_key=stale_key, amount_minor=2200
    )
    assert PaymentRefund.objects.count() == 1
    services.order_refund_apply(
        order_id=order.pk, refund=replay, plan={line.pk: 1}, restock=True
    )

    order.refresh_from_db()
    line.refresh_from_db()
    assert order.refunded_minor == 2200
    assert (line.refunded_quantity, line.refunded_minor) == (1, 2200)
    assert StockMovement.objects.filter(reason="return").count() == 1


# --- 2. per-unit refunds add up to the line ---------------------------------------


def test_order_refund_three_units_one_at_a_time_refunds_whole_line(
    api_client, make_cart, localstripe
):
    order = _pay(api_client, make_cart, lines=((None, 3),), price=333)
    line = order.lines.get()
    line_amount = line.total_minor + line.tax_minor
    assert line_amount % 3  # the case that used to lose the remainder

    for _ in range(3):
        services.order_refund(order=order, line_quantities={line.pk: 1})

    order.refresh_from_db()
    line.refresh_from_db()
    assert (line.refunded_quantity, line.refunded_minor) == (3, line_amount)
    assert order.refunded_minor == line_amount
    assert sum(_stripe_refunds(localstripe, order)) == line_amount
    assert order.status == "partially_refunded"  # the shipping is still paid


# --- 3. a lapsed hold that cannot be taken again goes through compensation ----


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
    assert not FailedWorkflow.objects.filter(status="open").exists()


# --- 4. a lost webhook task is caught up by the sweep ---------------------------


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


# --- 5. the amount paid must be the order total ---------------------------------


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


# --- 6. first-order-only counts the user's earlier guest orders ----------------


def test_customer_order_count_user_counts_guest_orders_of_verified_email():
    from allauth.account.models import EmailAddress

    from tests.accounts.factories import UserFactory
    from tests.checkout.test_views import make_order

    user = UserFactory()
    EmailAddress.objects.create(
        user=user, email="Ada@Example.com", verified=True, primary=True
    )
    make_order(email="ada@example.com")  # paid as a guest before signing up
    make_order(email="unverified@example.com")
    EmailAddress.objects.create(user=user, email="unverified@example.com")

    assert services.customer_order_count(f"user:{user.pk}") == 1
