"""Coupons on a cart: attach after checking them, detach."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction

from apps.carts import selectors
from apps.carts.models import Cart, CartCoupon
from apps.carts.services.lifecycle import _lock, _touch
from apps.coupons import selectors as coupon_selectors
from apps.coupons.exceptions import CouponNotApplicable

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from apps.accounts.models import User


@transaction.atomic
def cart_coupon_apply(
    *,
    cart: Cart,
    code: str,
    user: User | AnonymousUser | None = None,
    expected_version: int | None = None,
    customer_order_count: int | None = None,
) -> Cart:
    """Attach a coupon after checking it against the cart as it is now.

    Nothing is redeemed here; checkout counts the use when the order is placed.
    Raise CouponNotFound or CouponNotApplicable with the specific refusal code.
    """
    cart = _lock(cart, expected_version)
    coupon = coupon_selectors.coupon_get_by_code(code=code)
    if CartCoupon.objects.filter(cart=cart, coupon=coupon).exists():
        return cart
    link = CartCoupon.objects.create(cart=cart, coupon=coupon)
    view = selectors.cart_view(
        cart=cart, user=user, customer_order_count=customer_order_count
    )
    mine = next(c for c in view.coupons if c.code.upper() == coupon.code.upper())
    if not mine.is_applied:
        link.delete()
        raise CouponNotApplicable(
            mine.message or f"Coupon {coupon.code} cannot be used.",
            code=mine.error,
            details={"code": coupon.code, **mine.details},
        )
    return _touch(cart)


@transaction.atomic
def cart_coupon_remove(
    *, cart: Cart, code: str, expected_version: int | None = None
) -> Cart:
    """Detach a coupon (any case). Raise CouponNotFound when it is not on the cart."""
    from apps.coupons.exceptions import CouponNotFound

    cart = _lock(cart, expected_version)
    link = (
        CartCoupon.objects.filter(cart=cart, coupon__code__iexact=code.strip())
        .select_related("coupon")
        .first()
    )
    if link is None:
        raise CouponNotFound(
            f"Coupon {code.strip().upper()} is not on this cart.",
            details={"code": code.strip().upper()},
        )
    link.delete()
    return _touch(cart)
