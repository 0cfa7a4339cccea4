"""Per-customer coupon rules hold when one customer's orders complete at once.

Real threads against PostgreSQL and localstripe: every order here is
confirmed at Stripe first, then all ``/complete/`` requests start together,
so each order's finalisation races the others'. Exactly one order may be
the customer's first; the others are cancelled, refunded in full at
localstripe, the customer is emailed why, and an audit row is written.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.billing import gateway
from apps.carts import services as cart_services
from apps.checkout.models import Order
from apps.core.models import AuditLog, Notification
from apps.coupons.models import Coupon, CouponRedemption
from apps.inventory.models import StockItem
from tests.checkout.conftest import api_checkout_to_payment, confirm_card, idem
from tests.coupons.factories import CouponFactory
from tests.inventory.factories import VariantFactory
from tests.parallel import run_in_parallel

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.localstripe,
    pytest.mark.django_db(transaction=True),
]

EMAIL = "first.timer@example.com"


def _confirmed_checkout(shipping_method, variant, coupon_code: str) -> dict:
    """A guest checkout with the coupon, paid at Stripe but not yet completed."""
    cart, _ = cart_services.cart_create(user=None, currency="USD")
    cart_services.cart_line_add(cart=cart, sku=variant.sku, quantity=1)
    cart_services.cart_coupon_apply(cart=cart, code=coupon_code)
    session = api_checkout_to_payment(
        APIClient(), cart, email=EMAIL, method=shipping_method
    )
    order = Order.objects.get(number=session["order_number"])
    assert order.discount_minor == 1000  # 20 % of 50.00: the coupon is priced in
    assert confirm_card(session["payment_intent_id"]).status == "succeeded"
    return session


def _complete_all_at_once(sessions: list[dict]) -> None:
    def complete(session):
        def run():
            url = f"/api/v1/checkouts/{session['checkout_id']}/complete/"
            return APIClient().post(url, format="json", **idem()).status_code

        return run

    results, errors = run_in_parallel([complete(s) for s in sessions])
    assert errors == []
    assert all(status < 500 for status in results), results


def _refunded_at_stripe(intent_id: str) -> int:
    intent = gateway.payment_intent_retrieve(payment_intent_id=intent_id)
    charge_id = intent.latest_charge
    if not isinstance(charge_id, str):
        charge_id = charge_id.id
    charge = gateway._client().v1.charges.retrieve(charge_id)
    return charge.amount_refunded


def _assert_one_first_order(sessions: list[dict], variant) -> None:
    orders = {
        s["payment_intent_id"]: Order.objects.get(number=s["order_number"])
        for s in sessions
    }
    paid = [o for o in orders.values() if o.status == Order.Status.PAID]
    cancelled = [o for o in orders.values() if o.status == Order.Status.CANCELLED]
    assert len(paid) == 1, {o.number: o.status for o in orders.values()}
    assert len(cancelled) == len(sessions) - 1
    (winner,) = paid
    assert winner.discount_minor == 1000
    assert winner.refunded_minor == 0
    assert list(
        CouponRedemption.objects.filter(email=EMAIL).values_list("order_ref", flat=True)
    ) == [winner.number]
    for intent_id, order in orders.items():
        expected = 0 if order == winner else order.total_minor
        assert _refunded_at_stripe(intent_id) == expected, order.number
    for loser in cancelled:
        assert loser.refunded_minor == loser.total_minor
        apology = Notification.objects.get(
            kind="checkout.order_apology", idempotency_key__endswith=loser.number
        )
        assert apology.recipient == EMAIL
        assert "first order" in apology.body_text
        assert AuditLog.objects.filter(
            action="refund_processed", object_id=str(loser.pk)
        ).exists()
    assert StockItem.objects.get(variant=variant).on_hand == 49
    confirmations = Notification.objects.filter(kind="checkout.order_confirmation")
    assert [n.recipient for n in confirmations] == [EMAIL]


def test_first_order_coupon_four_parallel_completions_same_email_one_discounted_order(
    localstripe, shipping_method
):
    coupon = CouponFactory(code="FIRST20", value=2000, is_first_order_only=True)
    variant = VariantFactory(stock=50, weight_grams=200, price_minor=5000)
    sessions = [
        _confirmed_checkout(shipping_method, variant, coupon.code) for _ in range(4)
    ]

    _complete_all_at_once(sessions)

    _assert_one_first_order(sessions, variant)
    assert Coupon.objects.get(pk=coupon.pk).times_redeemed == 1


def test_first_order_two_different_coupons_parallel_same_email_one_discounted_order(
    localstripe, shipping_method
):
    welcome = CouponFactory(code="WELCOME20", value=2000, is_first_order_only=True)
    hello = CouponFactory(code="HELLO20", value=2000, is_first_order_only=True)
    variant = VariantFactory(stock=50, weight_grams=200, price_minor=5000)
    sessions = [
        _confirmed_checkout(shipping_method, variant, welcome.code),
        _confirmed_checkout(shipping_method, variant, hello.code),
    ]

    _complete_all_at_once(sessions)

    _assert_one_first_order(sessions, variant)
    counts = Coupon.objects.filter(pk__in=[welcome.pk, hello.pk])
    assert sorted(counts.values_list("times_redeemed", flat=True)) == [0, 1]
