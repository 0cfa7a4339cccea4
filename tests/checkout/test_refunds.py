"""Order refunds: double clicks, replayed refunds and per-unit amounts.

The PostgreSQL test runs real threads.
"""

from __future__ import annotations

import threading

import pytest
import requests
from django.core import mail
from django.db import connection

from apps.billing import gateway
from apps.billing.models import Payment, PaymentRefund
from apps.checkout import services
from apps.checkout.models import Order
from apps.inventory.models import StockItem, StockMovement
from tests.checkout.conftest import api_checkout_to_payment, confirm_card, idem
from tests.checkout.factories import ShippingMethodFactory, TaxRateFactory

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


# --- a double-clicked partial refund is counted once -------------------------


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


# --- per-unit refunds add up to the line ---------------------------------------


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
