"""Merging a guest cart into the signed-in shopper's cart."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction

from apps.carts import selectors
from apps.carts.models import Cart, CartCoupon, CartLine
from apps.carts.selectors import Notice
from apps.carts.services.lifecycle import _touch
from apps.carts.services.lines import _quantity_cap
from apps.inventory import selectors as inventory_selectors

if TYPE_CHECKING:
    from apps.accounts.models import User

_MERGE_SKIPPED = Notice(
    "cart_locked",
    "A payment is in progress for one of your carts, so the cart from before "
    "you signed in was not merged into it.",
    {},
)


@dataclass(frozen=True, slots=True)
class MergeResult:
    cart: Cart
    notices: tuple[Notice, ...]


@transaction.atomic
def cart_merge(*, source: Cart, user: User) -> MergeResult:
    """Merge a guest cart into the user's open cart, then delete the guest cart.

    Quantities are added and capped by availability and limits; unavailable
    items are dropped; the guest cart's coupons are kept if still valid on the
    merged cart. The notices say what was capped or dropped. With no open cart
    the user simply takes the guest cart over.
    """
    from apps.carts.exceptions import CartNotFound

    found = Cart.objects.select_for_update().filter(pk=source.pk).first()
    if found is None:
        # Merged (and deleted) by a parallel request: answer like it did.
        target = selectors.cart_get_open_for_user(user=user)
        if target is None:
            raise CartNotFound("Cart not found.")
        return MergeResult(target, ())
    source = found
    if source.user_id is not None and source.user_id != user.pk:
        raise CartNotFound("Cart not found.")
    target = (
        Cart.objects.select_for_update()
        .filter(user=user, status=Cart.Status.OPEN)
        .first()
    )
    if source.status != Cart.Status.OPEN or (target and target.pk == source.pk):
        return MergeResult(target or source, ())
    if target is not None and (source.is_locked or target.is_locked):
        # A cart being paid for must not change: both are kept as they are.
        return MergeResult(target, (_MERGE_SKIPPED,))
    if target is None:
        previous_user_id = source.user_id
        source.user = user
        try:
            with transaction.atomic():
                source.save(update_fields=["user", "updated_at"])
        except IntegrityError:
            # A parallel request opened the user's cart first: merge into it.
            source.user_id = previous_user_id
            target = (
                Cart.objects.select_for_update()
                .filter(user=user, status=Cart.Status.OPEN)
                .first()
            )
            if target is None:
                raise
        else:
            return MergeResult(_touch(source), ())
    return _merge_lines_into(source=source, target=target, user=user)


def _merge_lines_into(*, source: Cart, target: Cart, user: User) -> MergeResult:
    notices: list[Notice] = []
    existing = {
        line.variant_id: line
        for line in CartLine.objects.filter(cart=target).select_related(
            "variant__product"
        )
    }
    incoming = list(
        CartLine.objects.filter(cart=source)
        .select_related("variant__product")
        .order_by("pk")
    )
    availability = inventory_selectors.variant_availability_map(
        variant_ids=[line.variant_id for line in incoming]
    )
    for line in incoming:
        variant = line.variant
        avail = availability.get(variant.pk)
        sellable = (
            avail is not None
            and variant.is_active
            and variant.product.is_active
            and variant.currency == target.currency
        )
        if avail is None or not sellable:
            notices.append(
                Notice(
                    "dropped",
                    f"{variant.sku} was removed: it is no longer available.",
                    {"sku": variant.sku},
                )
            )
            continue
        current = existing.get(variant.pk)
        wanted = line.quantity + (current.quantity if current else 0)
        cap = _quantity_cap(variant)
        if avail.track_stock and not avail.allow_backorder:
            cap = min(cap, avail.available)
        quantity = min(wanted, cap)
        if quantity < 1:
            # Nothing left to sell: say so, not "we could keep 0".
            notices.append(
                Notice(
                    "dropped",
                    f"{variant.sku} was removed: it is out of stock.",
                    {"sku": variant.sku, "requested": wanted},
                )
            )
            if current is not None:
                current.delete()
            continue
        if quantity < wanted:
            notices.append(
                Notice(
                    "capped",
                    f"{variant.sku}: you asked for {wanted}, we could keep {quantity}.",
                    {"sku": variant.sku, "requested": wanted, "quantity": quantity},
                )
            )
        if current:
            current.quantity = quantity
            current.unit_price_minor = variant.price_minor
            current.save(update_fields=["quantity", "unit_price_minor", "updated_at"])
        else:
            CartLine.objects.create(
                cart=target,
                variant=variant,
                quantity=quantity,
                unit_price_minor=variant.price_minor,
            )

    have = set(
        CartCoupon.objects.filter(cart=target).values_list("coupon_id", flat=True)
    )
    for link in CartCoupon.objects.filter(cart=source).select_related("coupon"):
        if link.coupon_id in have:
            continue
        candidate = CartCoupon.objects.create(cart=target, coupon=link.coupon)
        view = selectors.cart_view(cart=target, user=user)
        mine = next(c for c in view.coupons if c.code == link.coupon.code)
        if not mine.is_applied:
            candidate.delete()
            notices.append(
                Notice(
                    "coupon_dropped",
                    f"Coupon {link.coupon.code} was not kept: {mine.message}",
                    {"code": link.coupon.code, "reason": mine.error},
                )
            )
    source.delete()
    return MergeResult(_touch(target), tuple(notices))
