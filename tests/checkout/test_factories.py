"""The order factories build rows the services would: totals, payment, refunds agree."""

import pytest

from apps.billing.models import Payment
from apps.checkout.models import Checkout, Order
from tests.billing.factories import PaymentFactory, RefundFactory
from tests.checkout.factories import CheckoutFactory, OrderFactory

pytestmark = pytest.mark.django_db


def test_order_factory_default_is_unpaid_with_an_open_payment():
    order = OrderFactory()

    assert order.status == Order.Status.PENDING_PAYMENT
    assert order.total_minor == 1500  # one 10.00 line and 5.00 shipping
    assert Payment.objects.get(reference=order.number).status == (
        "requires_payment_method"
    )


def test_order_factory_paid_lines_total_matches_succeeded_payment():
    order = OrderFactory(paid=True, lines=3)

    assert order.status == Order.Status.PAID
    assert order.paid_at is not None
    assert sum(line.total_minor for line in order.lines.all()) == 3000
    payment = Payment.objects.get(reference=order.number)
    assert (payment.status, payment.amount_minor) == ("succeeded", 3500)


@pytest.mark.parametrize(
    ("trait", "refunded"), [("refunded", 1500), ("partially_refunded", 750)]
)
def test_order_factory_refunded_payment_carries_the_refunds(trait, refunded):
    order = OrderFactory(**{trait: True})

    payment = Payment.objects.get(reference=order.number)
    assert order.refunded_minor == refunded
    assert payment.amount_refunded_minor == refunded
    assert [r.amount_minor for r in payment.refunds.all()] == [refunded]


def test_order_factory_cancelled_unpaid_has_cancelled_intent():
    order = OrderFactory(cancelled=True)

    assert Payment.objects.get(reference=order.number).status == "canceled"


def test_refund_factory_failed_refund_moves_no_money():
    payment = PaymentFactory(succeeded=True)
    RefundFactory(payment=payment, failed=True)

    payment.refresh_from_db()
    assert payment.amount_refunded_minor == 0


def test_checkout_factory_at_payment_has_address_method_and_a_line():
    checkout = CheckoutFactory(at_payment=True)

    assert checkout.state == Checkout.State.PAYMENT
    assert checkout.shipping_address["country"] == "US"
    assert checkout.shipping_method is not None
    assert checkout.cart.lines.count() == 1
