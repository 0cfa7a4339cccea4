"""Cart lines: add, change, remove, clear, within stock and order limits."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from django.db import transaction
from django.utils import timezone

from apps.carts import selectors
from apps.carts.exceptions import (
    CartCurrencyMismatch,
    CartLineLimitReached,
    CartLineNotFound,
    InsufficientStock,
)
from apps.carts.models import Cart, CartCoupon, CartLine
from apps.carts.services.lifecycle import _lock, _max_lines, _touch
from apps.inventory import selectors as inventory_selectors
from apps.inventory.exceptions import (
    InvalidQuantity,
    QuantityLimitExceeded,
    VariantUnavailable,
)
from apps.inventory.models import Variant

if TYPE_CHECKING:
    from apps.inventory.selectors import AnnotatedVariant, Availability


def _variant_by_sku(sku: str) -> Variant:
    # Read with its stock annotations so the quantity check needs no second query.
    variant = inventory_selectors.with_variant_availability(
        Variant.objects.select_related("product").filter(sku=sku), variant_field="id"
    ).first()
    if variant is None or not (variant.is_active and variant.product.is_active):
        raise VariantUnavailable(f"{sku} is not for sale.", details={"sku": sku})
    return variant


def _quantity_cap(variant: Variant) -> int:
    cap = selectors.cart_max_line_quantity()
    return min(cap, variant.max_per_order) if variant.max_per_order else cap


def _check_quantity(variant: Variant, quantity: int) -> None:
    """Raise unless 1 ≤ quantity ≤ the limits and the units can be sold."""
    if quantity < 1:
        raise InvalidQuantity(
            "Quantity must be at least 1.", details={"sku": variant.sku}
        )
    cap = _quantity_cap(variant)
    if quantity > cap:
        raise QuantityLimitExceeded(
            f"At most {cap} of {variant.sku} per order.",
            details={"sku": variant.sku, "max": cap, "requested": quantity},
        )
    if hasattr(variant, "stock_on_hand"):  # read by _variant_by_sku
        availability: Availability | None = (
            inventory_selectors.availability_from_variant(
                cast("AnnotatedVariant", variant), today=timezone.localdate()
            )
        )
    else:
        availability = inventory_selectors.variant_availability_map(
            variant_ids=[variant.pk]
        ).get(variant.pk)
    if availability is None or not (variant.is_active and variant.product.is_active):
        raise VariantUnavailable(
            f"{variant.sku} is not for sale.", details={"sku": variant.sku}
        )
    if (
        availability.track_stock
        and not availability.allow_backorder
        and quantity > availability.available
    ):
        raise InsufficientStock(
            f"Only {availability.available} of {variant.sku} available.",
            details={
                "sku": variant.sku,
                "requested": quantity,
                "available": availability.available,
            },
        )


@transaction.atomic
def cart_line_add(
    *, cart: Cart, sku: str, quantity: int = 1, expected_version: int | None = None
) -> Cart:
    """Add units of a variant, merging into its existing line.

    Raise VariantUnavailable, InvalidQuantity, QuantityLimitExceeded,
    InsufficientStock, CartCurrencyMismatch or CartVersionConflict.
    """
    cart = _lock(cart, expected_version)
    variant = _variant_by_sku(sku)
    # One read of the cart's lines answers "empty?", "how many?" and "is this
    # variant already here?" (a cart holds at most CART_MAX_LINES lines).
    quantities = dict(
        CartLine.objects.filter(cart=cart).values_list("variant_id", "quantity")
    )
    if variant.currency != cart.currency:
        if quantities:
            raise CartCurrencyMismatch(
                f"This cart is in {cart.currency}; "
                f"{sku} is sold in {variant.currency}.",
                details={"cart": cart.currency, "variant": variant.currency},
            )
        cart.currency = variant.currency
        cart.save(update_fields=["currency"])
    if quantity < 1:
        raise InvalidQuantity("Quantity must be at least 1.", details={"sku": sku})
    current = quantities.get(variant.pk)
    if current is None:
        if len(quantities) >= _max_lines():
            raise CartLineLimitReached(
                f"A cart holds at most {_max_lines()} different items."
            )
        _check_quantity(variant, quantity)
        line = CartLine(
            cart=cart,
            variant=variant,
            quantity=quantity,
            unit_price_minor=variant.price_minor,
        )
        # The cart is locked and the variant just read: checking that they
        # exist would cost two queries and prove nothing.
        line.full_clean(exclude=["cart", "variant"], validate_constraints=False)
        line.save()
    else:
        _check_quantity(variant, current + quantity)
        CartLine.objects.filter(cart=cart, variant=variant).update(
            quantity=current + quantity,
            unit_price_minor=variant.price_minor,
            updated_at=timezone.now(),
        )
    return _touch(cart)


def _line(cart: Cart, line_id: int) -> CartLine:
    line = (
        CartLine.objects.select_related("variant__product")
        .filter(cart=cart, pk=line_id)
        .first()
    )
    if line is None:
        raise CartLineNotFound("That line is not in this cart.")
    return line


@transaction.atomic
def cart_line_set_quantity(
    *,
    cart: Cart,
    line_id: int,
    quantity: int,
    expected_version: int | None = None,
) -> Cart:
    """Set a line's quantity (0 removes it); the price snapshot is refreshed.

    Raise CartLineNotFound, InvalidQuantity, QuantityLimitExceeded,
    InsufficientStock or CartVersionConflict.
    """
    cart = _lock(cart, expected_version)
    line = _line(cart, line_id)
    if quantity == 0:
        line.delete()
        return _touch(cart)
    _check_quantity(line.variant, quantity)
    line.quantity = quantity
    line.unit_price_minor = line.variant.price_minor
    line.save(update_fields=["quantity", "unit_price_minor", "updated_at"])
    return _touch(cart)


@transaction.atomic
def cart_line_remove(
    *, cart: Cart, line_id: int, expected_version: int | None = None
) -> Cart:
    """Remove a line. Raise CartLineNotFound or CartVersionConflict."""
    cart = _lock(cart, expected_version)
    _line(cart, line_id).delete()
    return _touch(cart)


@transaction.atomic
def cart_clear(*, cart: Cart, expected_version: int | None = None) -> Cart:
    """Remove every line and coupon."""
    cart = _lock(cart, expected_version)
    CartLine.objects.filter(cart=cart).delete()
    CartCoupon.objects.filter(cart=cart).delete()
    return _touch(cart)
