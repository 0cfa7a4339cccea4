"""Checkout's models: the shipping and tax setup, checkouts and orders."""

from apps.checkout.models.orders import (
    CHECKOUT_STATES,
    CHECKOUT_TRANSITIONS,
    ORDER_STATES,
    ORDER_TRANSITIONS,
    Checkout,
    CheckoutState,
    Fulfilment,
    FulfilmentLine,
    Order,
    OrderEvent,
    OrderLine,
    OrderNote,
    OrderStatus,
)
from apps.checkout.models.pricing import (
    ShippingMethod,
    ShippingZone,
    TaxRate,
    TaxSettings,
    WeightBand,
)

__all__ = [
    "CHECKOUT_STATES",
    "CHECKOUT_TRANSITIONS",
    "ORDER_STATES",
    "ORDER_TRANSITIONS",
    "Checkout",
    "CheckoutState",
    "Fulfilment",
    "FulfilmentLine",
    "Order",
    "OrderEvent",
    "OrderLine",
    "OrderNote",
    "OrderStatus",
    "ShippingMethod",
    "ShippingZone",
    "TaxRate",
    "TaxSettings",
    "WeightBand",
]
