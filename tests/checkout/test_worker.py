"""Finalisation in a real Celery worker process (the services pass).

Eager mode runs the task in the test's own thread, where a task argument that
does not survive JSON, or a row not yet committed when the task starts, goes
unnoticed; here the webhook's signal queues ``checkout.finalize_payment`` on
Redis and another process finalises the order.
"""

import time

import pytest

from apps.billing import signals
from apps.billing.models import Payment
from apps.checkout.models import Checkout, Order, OrderEvent
from apps.core.models import Notification
from apps.inventory.models import StockItem, StockMovement
from tests.checkout.conftest import api_checkout_to_payment, confirm_card
from tests.inventory.factories import VariantFactory

pytestmark = [
    pytest.mark.worker,
    pytest.mark.localstripe,
    pytest.mark.django_db(transaction=True),
]


def _wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    return predicate()


def _deliver_succeeded(intent_id: str, event_id: str) -> None:
    payment = Payment.objects.get(intent_id=intent_id)
    # What billing's webhook receiver sends after dj-stripe verified the event.
    signals.payment_succeeded.send(
        sender="billing",
        payment_intent_id=intent_id,
        amount_minor=payment.amount_minor,
        currency=payment.currency,
        metadata={},
        event_id=event_id,
    )


def test_worker_finalises_the_paid_order_once_across_redelivery(
    localstripe, celery_worker, api_client, make_cart, shipping_method
):
    variant = VariantFactory(stock=6, weight_grams=100, price_minor=1500)
    session = api_checkout_to_payment(
        api_client, make_cart(lines=((variant, 2),)), method=shipping_method
    )
    confirm_card(session["payment_intent_id"])

    # Autocommit: the signal's on_commit publishes the task at once.
    _deliver_succeeded(session["payment_intent_id"], "evt_worker_1")

    order = _wait_for(lambda: Order.objects.filter(status="paid").first())
    assert order is not None, "the worker did not finalise the order"
    assert StockItem.objects.get(variant=variant).on_hand == 4
    assert Checkout.objects.get(pk=session["checkout_id"]).state == "completed"
    confirmation = _wait_for(
        lambda: Notification.objects.filter(
            kind="checkout.order_confirmation", status="sent"
        ).first()
    )
    assert confirmation is not None
    assert confirmation.recipient == "guest@example.com"

    # Stripe redelivers under a new event id: the worker runs it again.
    _deliver_succeeded(session["payment_intent_id"], "evt_worker_2")
    time.sleep(3)  # the worker's second run, which must change nothing

    assert OrderEvent.objects.filter(order=order, to_status="paid").count() == 1
    assert StockMovement.objects.filter(variant=variant, reason="sale").count() == 1
    assert Notification.objects.filter(kind="checkout.order_confirmation").count() == 1
