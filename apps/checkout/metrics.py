"""Prometheus counters for orders and checkouts (apps.core.metrics).

Counted from the state machines' ``state_moved`` signal, after commit, so
every path that pays an order or fails a payment (the complete call, the
webhook, the beat sweep) is counted once, by the move itself.
"""

from typing import Any

from apps.checkout.models import Checkout, Order
from apps.core.metrics import ORDERS_PAID, PAYMENTS_FAILED
from apps.core.state import state_moved


def _order_moved(sender: Any, *, row: Order, to: str, **_kwargs: Any) -> None:
    if to == Order.Status.PAID:
        ORDERS_PAID.labels(currency=row.currency).inc()


def _checkout_moved(sender: Any, *, row: Checkout, to: str, **_kwargs: Any) -> None:
    # Both the complete call and the payment_failed webhook move the checkout
    # to payment_failed; the second is a no-op move and sends nothing.
    if to == Checkout.State.PAYMENT_FAILED:
        PAYMENTS_FAILED.labels(source="checkout").inc()


def connect() -> None:
    state_moved.connect(_order_moved, sender=Order, dispatch_uid="metrics.order")
    state_moved.connect(
        _checkout_moved, sender=Checkout, dispatch_uid="metrics.checkout"
    )
