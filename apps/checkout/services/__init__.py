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
    checkout_update,
)
from apps.checkout.services.compensation import order_compensate
from apps.checkout.services.coupon_redemption import customer_order_count
from apps.checkout.services.customer_messages import order_confirmation_send
from apps.checkout.services.fulfilment import order_fulfil
from apps.checkout.services.gift_cards import (
    checkout_gift_card_apply,
    checkout_set_gift_delivery,
    order_gift_cards_issue,
)
from apps.checkout.services.order_sweeps import (
    orders_cancel_abandoned,
    orders_finalize_stuck,
)
from apps.checkout.services.orders import order_public_url, order_transition
from apps.checkout.services.payment_outcome import (
    order_payment_canceled,
    order_payment_failed,
    order_payment_succeeded,
)
from apps.checkout.services.payments import (
    PaymentSession,
    checkout_change_cart,
    checkout_complete,
    checkout_hold_renew,
    checkout_payment_session,
    checkout_payment_start,
)
from apps.checkout.services.pricing import checkout_totals, shipping_quotes
from apps.checkout.services.refunds import order_refund, order_refund_apply
from apps.checkout.services.store_credit import checkout_set_credit
from apps.checkout.services.workflow_retry import finalize_payment_failed

__all__ = [
    "PaymentSession",
    "address_clean",
    "checkout_change_cart",
    "checkout_complete",
    "checkout_gift_card_apply",
    "checkout_hold_renew",
    "checkout_next_step",
    "checkout_payment_session",
    "checkout_payment_start",
    "checkout_set_billing_address",
    "checkout_set_credit",
    "checkout_set_email",
    "checkout_set_gift_delivery",
    "checkout_set_shipping_address",
    "checkout_set_shipping_method",
    "checkout_shipping_quotes",
    "checkout_start",
    "checkout_totals",
    "checkout_transition",
    "checkout_update",
    "customer_order_count",
    "finalize_payment_failed",
    "order_compensate",
    "order_confirmation_send",
    "order_fulfil",
    "order_gift_cards_issue",
    "order_payment_canceled",
    "order_payment_failed",
    "order_payment_succeeded",
    "order_public_url",
    "order_refund",
    "order_refund_apply",
    "order_transition",
    "orders_cancel_abandoned",
    "orders_finalize_stuck",
    "shipping_quotes",
]
