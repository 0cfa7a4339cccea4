"""Checkout and order services: finalisation exactly once, compensation."""

from datetime import timedelta

import pytest
import requests
from django.core import mail
from django.utils import timezone

from apps.billing import signals
from apps.billing.models import Payment, PaymentRefund
from apps.checkout import services
from apps.checkout.models import (
    Checkout,
    Order,
    OrderEvent,
    OrderLine,
)
from apps.core.models import Notification, Workflow
from apps.core.workflows import workflow_retry_now
from apps.coupons.models import CouponRedemption
from apps.inventory import services as inventory_services
from apps.inventory.models import Reservation, StockItem
from apps.inventory.services import ReservationRequest
from tests.carts.factories import CartLineFactory
from tests.checkout.conftest import api_checkout_to_payment, confirm_card
from tests.coupons.factories import CouponFactory
from tests.inventory.factories import VariantFactory

pytestmark = pytest.mark.django_db


def test_order_numbers_are_short_and_unique():
    numbers = {services.orders.order_number_new() for _ in range(500)}
    assert len(numbers) == 500
    assert all(len(n) == 9 and n[4] == "-" for n in numbers)


def test_checkout_new_shipping_address_from_review_clears_method(
    make_cart, shipping_method
):
    from tests.checkout.conftest import ADDRESS

    cart = make_cart()
    checkout, _ = services.checkout_start(cart=cart, email="a@example.com")
    checkout = services.checkout_set_shipping_address(
        checkout=checkout, address=ADDRESS
    )
    checkout = services.checkout_set_shipping_method(
        checkout=checkout, method_id=shipping_method.pk
    )
    assert checkout.state == "payment"

    checkout = services.checkout_set_shipping_address(
        checkout=checkout,
        address={**ADDRESS, "postal_code": "10001", "region": "NY", "city": "New York"},
    )

    assert checkout.shipping_method_id is None
    assert checkout.state == "shipping_method"


def test_checkout_digital_cart_skips_shipping_steps(make_cart, tax_rate):
    from tests.checkout.conftest import ADDRESS

    cart = make_cart(weight=0)
    checkout, _ = services.checkout_start(cart=cart, email="a@example.com")
    assert checkout.state == "billing_address"

    checkout = services.checkout_set_billing_address(
        checkout=checkout, same_as_shipping=False, address=ADDRESS
    )

    assert checkout.state == "payment"
    totals = services.checkout_totals(checkout=checkout)
    assert totals.requires_shipping is False
    assert (totals.shipping_minor, totals.tax_minor, totals.total_minor) == (
        0,
        200,
        2200,
    )


def test_shipping_quotes_free_over_threshold_and_weight_bands(db):
    from tests.checkout.factories import ShippingMethodFactory, WeightBandFactory

    free = ShippingMethodFactory(free_over=True, price_minor=500, free_over_minor=5000)
    band = WeightBandFactory(max_weight_grams=1000, price_minor=700)
    ShippingMethodFactory(zone__countries=["FR"])  # another zone: not offered

    below = {
        q.method: q.price_minor
        for q in services.shipping_quotes(
            country="US", currency="USD", subtotal_minor=4999, weight_grams=900
        )
    }
    above = {
        q.method: q.price_minor
        for q in services.shipping_quotes(
            country="US", currency="USD", subtotal_minor=5000, weight_grams=1200
        )
    }

    assert below == {free: 500, band.method: 700}
    assert above == {free: 0}  # too heavy for the only band


# --- finalisation ---------------------------------------------------------------


@pytest.fixture
def paid_intent(api_client, make_cart, shipping_method, localstripe):
    """A guest checkout whose intent was confirmed (not finalised yet)."""
    coupon = CouponFactory(value=1000)
    variant = VariantFactory(stock=5, weight_grams=100, price_minor=2000)
    cart = make_cart(lines=((variant, 2),))
    from apps.carts import services as cart_services

    cart_services.cart_coupon_apply(cart=cart, code=coupon.code)
    session = api_checkout_to_payment(api_client, cart, method=shipping_method)
    confirm_card(session["payment_intent_id"])
    return {**session, "variant": variant, "coupon": coupon, "cart": cart}


def _intent_amount(intent_id: str) -> dict:
    payment = Payment.objects.get(intent_id=intent_id)
    return {"amount_minor": payment.amount_minor, "currency": payment.currency}


def _send_succeeded(intent_id, event_id):
    signals.payment_succeeded.send(
        sender="billing",
        payment_intent_id=intent_id,
        # What Stripe would report: the intent's own amount.
        **_intent_amount(intent_id),
        metadata={},
        event_id=event_id,
    )


def test_payment_succeeded_delivered_five_times_out_of_order_finalises_once(
    paid_intent, django_capture_on_commit_callbacks
):
    intent = paid_intent["payment_intent_id"]
    with django_capture_on_commit_callbacks(execute=True):
        signals.payment_failed.send(
            sender="billing",
            payment_intent_id=intent,
            amount_minor=0,
            currency="USD",
            metadata={},
            event_id="evt_0",
            error_message="",
        )
        for n in range(5):
            _send_succeeded(intent, f"evt_{n}")
        services.checkout_complete(
            checkout=Checkout.objects.get(pk=paid_intent["checkout_id"])
        )

    order = Order.objects.get()
    assert order.status == "paid"
    assert OrderEvent.objects.filter(order=order, to_status="paid").count() == 1
    assert StockItem.objects.get(variant=paid_intent["variant"]).on_hand == 3
    assert Reservation.objects.get(status="committed").quantity == 2
    assert CouponRedemption.objects.filter(order_ref=order.number).count() == 1
    assert Notification.objects.filter(kind="checkout.order_confirmation").count() == 1
    assert len(mail.outbox) == 1
    assert Payment.objects.get().status == "succeeded"


def _assert_cancelled_refunded_apologised(localstripe) -> Order:
    """The order is cancelled, refunded in full at Stripe, and the shopper told."""
    order = Order.objects.get()
    assert order.status == "cancelled"
    assert order.refunded_minor == order.total_minor
    refund = PaymentRefund.objects.get()
    stripe_refund = requests.get(
        f"{localstripe}/v1/refunds/{refund.refund_id}",
        auth=("sk_test_" + "0" * 24 + "localstripe", ""),
        timeout=10,
    ).json()
    assert stripe_refund["amount"] == order.total_minor
    assert stripe_refund["payment_intent"] == refund.payment.intent_id
    assert [m.subject for m in mail.outbox] == [
        f"Sorry: we could not fulfil order {order.number}"
    ]
    return order


def test_payment_succeeded_after_hold_expired_and_stock_sold_refunds_and_apologises(
    paid_intent, localstripe, django_capture_on_commit_callbacks
):
    variant = paid_intent["variant"]
    Reservation.objects.filter(status="active").update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    inventory_services.stock_reserve(
        items=[ReservationRequest(variant.pk, 5)],
        ref="elsewhere",
        ttl=timedelta(minutes=5),
    )
    inventory_services.stock_commit(ref="elsewhere")

    with django_capture_on_commit_callbacks(execute=True):
        _send_succeeded(paid_intent["payment_intent_id"], "evt_1")

    _assert_cancelled_refunded_apologised(localstripe)
    assert not Workflow.objects.exclude(status="resolved").exists()
    assert StockItem.objects.get(variant=variant).on_hand == 0
    assert not CouponRedemption.objects.exists()


def test_payment_succeeded_hold_lapsed_variant_deleted_cancels_and_refunds(
    paid_intent, django_capture_on_commit_callbacks
):
    # The hold lapsed and the line lost its variant (deleted from the catalogue
    # once its reservation rows were gone): the money must still go back.
    Reservation.objects.filter(status="active").update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    inventory_services.stock_release(ref=f"checkout:{paid_intent['checkout_id']}")
    OrderLine.objects.update(variant=None)

    with django_capture_on_commit_callbacks(execute=True):
        _send_succeeded(paid_intent["payment_intent_id"], "evt_gone")

    order = Order.objects.get()
    assert order.status == "cancelled"
    assert "no longer sold" in order.events.order_by("pk").last().message
    assert order.refunded_minor == order.total_minor
    assert [m.subject for m in mail.outbox] == [
        f"Sorry: we could not fulfil order {order.number}"
    ]
    assert not CouponRedemption.objects.exists()


def test_payment_succeeded_webhook_reporting_another_amount_cancels_and_refunds(
    paid_intent, django_capture_on_commit_callbacks
):
    intent_id = paid_intent["payment_intent_id"]
    order = Order.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        signals.payment_succeeded.send(
            sender="billing",
            payment_intent_id=intent_id,
            amount_minor=order.total_minor - 100,  # Stripe took less than owed
            currency=order.currency,
            metadata={},
            event_id="evt_short",
        )

    order.refresh_from_db()
    assert order.status == "cancelled"
    assert "order total is" in order.events.order_by("pk").last().message
    assert PaymentRefund.objects.get().payment.intent_id == intent_id
    assert [m.subject for m in mail.outbox] == [
        f"Sorry: we could not fulfil order {order.number}"
    ]
    assert StockItem.objects.get(variant=paid_intent["variant"]).on_hand == 5
    assert not CouponRedemption.objects.exists()


def test_payment_succeeded_hold_expired_backorderable_marks_line_backordered(
    api_client,
    make_cart,
    shipping_method,
    localstripe,
    django_capture_on_commit_callbacks,
):
    variant = VariantFactory(stock=2, weight_grams=100, backorderable=True)
    cart = make_cart(lines=((variant, 2),))
    session = api_checkout_to_payment(api_client, cart, method=shipping_method)
    confirm_card(session["payment_intent_id"])
    Reservation.objects.filter(status="active").update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    inventory_services.stock_adjust(
        variant_id=variant.pk, quantity_delta=-1, reason="adjustment"
    )

    with django_capture_on_commit_callbacks(execute=True):
        _send_succeeded(session["payment_intent_id"], "evt_b")

    order = Order.objects.get()
    assert order.status == "paid"
    assert order.lines.get().backordered_quantity == 1
    assert StockItem.objects.get(variant=variant).on_hand == 0
    assert "1 on backorder" in mail.outbox[0].body


def test_checkout_payment_start_out_of_stock_names_the_line(make_cart, shipping_method):
    from apps.inventory.exceptions import OutOfStock
    from tests.checkout.conftest import ADDRESS

    variant = VariantFactory(stock=1, weight_grams=100, sku="LAST-ONE")
    line = CartLineFactory(variant=variant, quantity=1)
    checkout, _ = services.checkout_start(cart=line.cart, email="a@example.com")
    checkout = services.checkout_set_shipping_address(
        checkout=checkout, address=ADDRESS
    )
    checkout = services.checkout_set_shipping_method(
        checkout=checkout, method_id=shipping_method.pk
    )
    inventory_services.stock_adjust(
        variant_id=variant.pk, quantity_delta=-1, reason="adjustment"
    )

    with pytest.raises(OutOfStock) as exc:
        services.checkout_payment_start(checkout=checkout)

    assert "LAST-ONE" in exc.value.message
    assert not Order.objects.exists()


def test_payment_succeeded_after_coupon_used_up_elsewhere_refunds_and_apologises(
    paid_intent, localstripe, django_capture_on_commit_callbacks
):
    # The shopper's coupon had one use left at review; another order took it
    # before this payment's webhook arrived.
    from apps.coupons import services as coupon_services

    coupon = paid_intent["coupon"]
    coupon.usage_limit = 1
    coupon.save(update_fields=["usage_limit"])
    coupon_services.coupon_redeem(
        code=coupon.code,
        order_ref="OTHER-1",
        customer_key="email:other@example.com",
        discount_minor=100,
        currency="USD",
        email="other@example.com",
    )

    with django_capture_on_commit_callbacks(execute=True):
        _send_succeeded(paid_intent["payment_intent_id"], "evt_coupon_gone")

    _assert_cancelled_refunded_apologised(localstripe)
    # Nothing was sold and the coupon keeps its one (other) redemption.
    assert StockItem.objects.get(variant=paid_intent["variant"]).on_hand == 5
    assert list(CouponRedemption.objects.values_list("order_ref", flat=True)) == [
        "OTHER-1"
    ]


def test_automatic_refund_that_fails_leaves_a_workflow_staff_can_retry(
    paid_intent, localstripe, django_capture_on_commit_callbacks, monkeypatch
):
    # localstripe cannot be made to fail a refund: the gateway call is patched
    # to raise what a Stripe outage raises, then restored for the retry.
    from apps.billing import gateway
    from apps.billing.exceptions import TransientError

    Reservation.objects.filter(status="active").update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    inventory_services.stock_reserve(
        items=[ReservationRequest(paid_intent["variant"].pk, 5)],
        ref="elsewhere",
        ttl=timedelta(minutes=5),
    )
    inventory_services.stock_commit(ref="elsewhere")
    real_refund = gateway.refund_create

    def outage(**kwargs):
        raise TransientError("Stripe did not answer")

    monkeypatch.setattr(gateway, "refund_create", outage)
    with django_capture_on_commit_callbacks(execute=True):
        _send_succeeded(paid_intent["payment_intent_id"], "evt_refund_down")

    order = Order.objects.get()
    assert order.status == "cancelled"
    assert order.refunded_minor == 0
    workflow = Workflow.objects.get(status="open")
    assert (workflow.name, workflow.reference) == ("order.compensate", order.number)
    assert "Stripe did not answer" in workflow.last_error
    assert workflow.next_attempt_at > timezone.now()
    assert mail.outbox == []  # no apology before the money is back

    monkeypatch.setattr(gateway, "refund_create", real_refund)
    with django_capture_on_commit_callbacks(execute=True):
        workflow_retry_now(workflow_id=workflow.pk)

    workflow.refresh_from_db()
    order.refresh_from_db()
    assert workflow.status == "resolved"
    assert order.refunded_minor == order.total_minor
    assert [m.subject for m in mail.outbox] == [
        f"Sorry: we could not fulfil order {order.number}"
    ]
