"""Checkout error types; codes are part of the API contract."""

from apps.core.exceptions import ApplicationError, Conflict, NotFound


class CheckoutNotFound(NotFound):
    default_code = "checkout_not_found"


class OrderNotFound(NotFound):
    default_code = "order_not_found"


class CartEmpty(ApplicationError):
    status_code = 400
    default_code = "cart_empty"


class CheckoutIncomplete(Conflict):
    """A step the requested one depends on is not done yet."""

    default_code = "checkout_incomplete"


class ShippingMethodUnavailable(ApplicationError):
    status_code = 400
    default_code = "shipping_method_unavailable"


class ShippingMethodLapsed(Conflict):
    """The chosen method no longer quotes for this cart and address (weight past
    its top band, deactivated, another country or currency): choose again."""

    default_code = "shipping_method_unavailable"


class PaymentIncomplete(ApplicationError):
    """The intent is not paid yet (needs a card, 3-D Secure, or is processing)."""

    status_code = 402
    default_code = "payment_incomplete"


class RefundNotPossible(Conflict):
    default_code = "refund_not_possible"


class PaymentAmountMismatch(Conflict):
    """The payment that succeeded is not the order's total (amount or currency)."""

    default_code = "payment_amount_mismatch"


class FulfilmentNotPossible(Conflict):
    """The order is not in a state that ships, or nothing is left to ship."""

    default_code = "fulfilment_not_possible"
