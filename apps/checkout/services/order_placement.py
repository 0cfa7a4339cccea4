"""Placing an order: the ``pending_payment`` snapshot of a checkout's totals."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import IntegrityError

from apps.checkout.models import Checkout, Order, OrderLine
from apps.checkout.services.orders import PAID_STATUSES, _event, order_number_new
from apps.core.exceptions import InvalidTransition
from apps.core.inserts import insert_unless_taken

if TYPE_CHECKING:
    from apps.checkout.services.pricing import Totals


ST = Order.Status


def _order_create(checkout: Checkout, values: dict[str, Any]) -> Order:
    """Create the checkout's order under a fresh number (five tries on a clash).

    A number clash is reported by the INSERT, not raised, so the attempt
    needs no savepoint inside the caller's transaction.
    """
    for _attempt in range(5):
        order = Order(number=order_number_new(), checkout=checkout, **values)
        if insert_unless_taken(order, unique=("number",)):
            return order
    raise IntegrityError("No free order number after five tries.")


def order_place_pending(
    *, checkout: Checkout, totals: Totals, first: bool = False
) -> Order:
    """Create or refresh the checkout's ``pending_payment`` order from totals.

    Call inside the transaction that locked the checkout. Pass ``first=True``
    when its payment was never started (no totals fingerprint): it has no
    order then, and none is looked up.
    """
    order = (
        None
        if first
        else Order.objects.select_for_update().filter(checkout=checkout).first()
    )
    if order is not None and order.status != ST.PENDING_PAYMENT:
        if order.status in PAID_STATUSES:
            raise InvalidTransition(
                "This checkout is already paid.", details={"from": order.status}
            )
        order.checkout = None  # cancelled: keep it, start a new one
        order.save(update_fields=["checkout", "updated_at"])
        order = None
    view = totals.view
    values: dict[str, Any] = {
        "cart_id": checkout.cart_id,
        "user": checkout.user,
        "email": checkout.email,
        "marketing_consent": checkout.marketing_consent,
        "currency": totals.currency,
        "subtotal_minor": totals.subtotal_minor,
        "discount_minor": totals.discount_minor,
        "shipping_minor": totals.shipping_minor,
        "shipping_discount_minor": totals.shipping_discount_minor,
        "tax_minor": totals.tax_minor,
        "total_minor": totals.total_minor,
        "credit_minor": totals.credit_minor,
        "prices_include_tax": totals.prices_include_tax,
        "taxes": list(totals.taxes),
        "coupons": [
            {"code": a.code, "discount_minor": a.amount_minor}
            for a in view.breakdown.applied
        ],
        "shipping_address": checkout.shipping_address
        if totals.requires_shipping
        else None,
        "billing_address": (
            checkout.shipping_address
            if checkout.billing_same_as_shipping and checkout.shipping_address
            else checkout.billing_address
        ),
        "shipping_method_name": checkout.shipping_method.name
        if totals.requires_shipping and checkout.shipping_method
        else "",
        "requires_shipping": totals.requires_shipping,
    }
    if order is None:
        order = _order_create(checkout, values)
        _event(order, kind="created", source="checkout", to_status=ST.PENDING_PAYMENT)
    else:
        for name, value in values.items():
            setattr(order, name, value)
        order.save(update_fields=[*values, "updated_at"])
        order.lines.all().delete()
    by_key = {line.key: line for line in view.breakdown.lines}
    OrderLine.objects.bulk_create(
        [
            OrderLine(
                order=order,
                variant_id=line.variant_id,
                sku=line.sku,
                title=line.title[:255],
                quantity=line.quantity,
                unit_price_minor=line.unit_price_minor,
                subtotal_minor=line.subtotal_minor,
                discount_minor=line.discount_minor,
                tax_minor=by_key[line.variant_id].tax_minor,
                total_minor=line.total_minor,
                weight_grams=totals.weights.get(line.variant_id, 0),
            )
            for line in view.lines
            if line.is_priced
        ]
    )
    return order
