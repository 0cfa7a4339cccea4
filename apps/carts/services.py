"""Cart writes. Every write locks the cart row, checks the optional expected
version (optimistic concurrency for API clients) and bumps the version.

Adding to a cart never reserves stock; checkout does.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from apps.carts import selectors
from apps.carts.exceptions import (
    CartCurrencyMismatch,
    CartLineLimitReached,
    CartLineNotFound,
    CartLocked,
    CartNotOpen,
    CartVersionConflict,
    InsufficientStock,
)
from apps.carts.models import CART_TRANSITIONS, Cart, CartCoupon, CartLine
from apps.carts.selectors import Notice
from apps.core.exceptions import InvalidTransition
from apps.coupons import selectors as coupon_selectors
from apps.coupons.exceptions import CouponNotApplicable
from apps.inventory import selectors as inventory_selectors
from apps.inventory.exceptions import (
    InvalidQuantity,
    QuantityLimitExceeded,
    VariantUnavailable,
)
from apps.inventory.models import Variant

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from apps.accounts.models import User


def _abandon_after() -> datetime.timedelta:
    return datetime.timedelta(days=int(getattr(settings, "CART_ABANDON_AFTER_DAYS", 7)))


def _default_currency() -> str:
    return getattr(settings, "CART_DEFAULT_CURRENCY", "USD")


def _max_lines() -> int:
    return int(getattr(settings, "CART_MAX_LINES", 100))


def cart_create(
    *, user: User | AnonymousUser | None = None, currency: str | None = None
) -> tuple[Cart, bool]:
    """Return the user's open cart, or a new cart; the flag says it was created."""
    if user is not None and user.is_authenticated:
        existing = selectors.cart_get_open_for_user(user=user)
        if existing:
            return existing, False
    cart = Cart(
        user=user if user is not None and user.is_authenticated else None,
        currency=(currency or _default_currency()).upper(),
        expires_at=timezone.now() + _abandon_after(),
    )
    cart.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            cart.save()
    except IntegrityError:
        # A parallel request (double click) created the user's open cart first.
        existing = selectors.cart_get_open_for_user(user=user)
        if existing is None:
            raise
        return existing, False
    return cart, True


def _lock(cart: Cart, expected_version: int | None) -> Cart:
    locked = Cart.objects.select_for_update().get(pk=cart.pk)
    if expected_version is not None and expected_version != locked.version:
        raise CartVersionConflict(
            f"The cart changed (version {locked.version}, you sent "
            f"{expected_version}); reload it and try again.",
            details={"current_version": locked.version},
        )
    if locked.status != Cart.Status.OPEN:
        raise CartNotOpen(f"This cart is {locked.status} and can no longer change.")
    if locked.is_locked:
        raise CartLocked(
            "Payment has started for this cart. To change it, choose "
            "“Change cart” (the payment is cancelled first).",
            details={"locked_at": str(locked.locked_at)},
        )
    return locked


def cart_payment_lock(*, cart_id: uuid.UUID) -> Cart:
    """Freeze the cart's lines and coupons while a payment is started for it.

    Call inside the transaction that prices the cart for the payment, so
    every later write (they all lock the row first) sees the lock and raises
    CartLocked instead of changing what is being charged.
    """
    cart = Cart.objects.select_for_update().get(pk=cart_id)
    if not cart.is_locked:
        cart.locked_at = timezone.now()
        cart.save(update_fields=["locked_at", "updated_at"])
    return cart


def cart_payment_unlock(*, cart_id: uuid.UUID | None) -> None:
    """Let the cart change again (its payment was cancelled); safe to repeat."""
    if cart_id is not None:
        Cart.objects.filter(pk=cart_id, locked_at__isnull=False).update(
            locked_at=None, updated_at=timezone.now()
        )


def _touch(cart: Cart) -> Cart:
    now = timezone.now()
    cart.version += 1
    cart.updated_at = now
    cart.expires_at = now + _abandon_after()
    cart.save(update_fields=["version", "updated_at", "expires_at"])
    return cart


def _variant_by_sku(sku: str) -> Variant:
    variant = inventory_selectors.variant_get_by_sku(sku=sku)
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
    if variant.currency != cart.currency:
        if cart.lines.exists():
            raise CartCurrencyMismatch(
                f"This cart is in {cart.currency}; "
                f"{sku} is sold in {variant.currency}.",
                details={"cart": cart.currency, "variant": variant.currency},
            )
        cart.currency = variant.currency
        cart.save(update_fields=["currency"])
    if quantity < 1:
        raise InvalidQuantity("Quantity must be at least 1.", details={"sku": sku})
    line = CartLine.objects.filter(cart=cart, variant=variant).first()
    if line is None:
        if cart.lines.count() >= _max_lines():
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
        line.full_clean(validate_constraints=False)
        line.save()
    else:
        _check_quantity(variant, line.quantity + quantity)
        line.quantity += quantity
        line.unit_price_minor = variant.price_minor
        line.save(update_fields=["quantity", "unit_price_minor", "updated_at"])
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


@transaction.atomic
def cart_transition(*, cart_id: uuid.UUID, to: str) -> Cart:
    """Move a cart between states (checkout marks it checked_out).

    A move to the current state is a no-op. Raise InvalidTransition otherwise.
    """
    cart = Cart.objects.select_for_update().get(pk=cart_id)
    if cart.status == to:
        return cart
    if to not in CART_TRANSITIONS.get(cart.status, set()):
        raise InvalidTransition(
            f"A cart cannot go from {cart.status} to {to}.",
            details={"from": cart.status, "to": to},
        )
    cart.status = to
    cart.version += 1
    cart.save(update_fields=["status", "version", "updated_at"])
    return cart


@dataclass(frozen=True, slots=True)
class ExpiryResult:
    abandoned: int
    deleted: int


def carts_expire(*, now: datetime.datetime | None = None) -> ExpiryResult:
    """Mark carts idle for CART_ABANDON_AFTER_DAYS as abandoned, and delete
    anonymous carts idle for CART_DELETE_ANONYMOUS_AFTER_DAYS. Safe to rerun.
    """
    now = now or timezone.now()
    delete_after = datetime.timedelta(
        days=int(getattr(settings, "CART_DELETE_ANONYMOUS_AFTER_DAYS", 30))
    )
    with transaction.atomic():
        stale = list(
            Cart.objects.filter(
                user__isnull=True,
                status__in=[Cart.Status.OPEN, Cart.Status.ABANDONED],
                updated_at__lt=now - delete_after,
            ).values_list("pk", flat=True)
        )
        Cart.objects.filter(pk__in=stale).delete()
        abandoned = Cart.objects.filter(
            status=Cart.Status.OPEN, updated_at__lt=now - _abandon_after()
        ).update(status=Cart.Status.ABANDONED, version=F("version") + 1)
    return ExpiryResult(abandoned=abandoned, deleted=len(stale))
