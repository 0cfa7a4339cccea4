"""Checkout services: steps, payment, orders (see the submodules)."""

from apps.checkout.services.checkout import (
    address_clean,
    checkout_next_step,
    checkout_set_billing_address,
    checkout_set_email,
    checkout_set_shipping_address,
    checkout_set_shipping_method,
    checkout_shipping_quotes,
    checkout_start,
    checkout_transition,
)
from apps.checkout.services.orders import (
    customer_order_count,
    failed_workflow_retry,
    order_compensate,
    order_confirmation_send,
    order_fulfil,
    order_payment_failed,
    order_payment_succeeded,
    order_public_url,
    order_refund,
    order_refund_apply,
    order_transition,
    orders_finalize_stuck,
)
from apps.checkout.services.payments import (
    PaymentSession,
    checkout_complete,
    checkout_hold_renew,
    checkout_payment_start,
)
from apps.checkout.services.pricing import checkout_totals, shipping_quotes

__all__ = [
    "PaymentSession",
    "address_clean",
    "checkout_complete",
    "checkout_hold_renew",
    "checkout_next_step",
    "checkout_payment_start",
    "checkout_set_billing_address",
    "checkout_set_email",
    "checkout_set_shipping_address",
    "checkout_set_shipping_method",
    "checkout_shipping_quotes",
    "checkout_start",
    "checkout_totals",
    "checkout_transition",
    "customer_order_count",
    "failed_workflow_retry",
    "order_compensate",
    "order_confirmation_send",
    "order_fulfil",
    "order_payment_failed",
    "order_payment_succeeded",
    "order_public_url",
    "order_refund",
    "order_refund_apply",
    "order_transition",
    "orders_finalize_stuck",
    "shipping_quotes",
]
