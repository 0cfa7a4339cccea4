"""Cart reads: ownership checks and the re-priced cart view.

``cart_view`` prices a cart against today's catalogue on every read. A price
that changed since the line was added, or availability below the quantity, is
reported as a notice on the line, never silently applied to the quantity.
Its query count does not depend on the number of lines or coupons.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection
from django.db.models import BooleanField, Sum
from django.db.models.expressions import RawSQL
from django.utils import timezone

from apps.carts.exceptions import CartNotFound
from apps.carts.models import Cart, CartCoupon, CartLine
from apps.core.money import money_api
from apps.coupons import selectors as coupon_selectors
from apps.coupons import services as coupon_services
from apps.coupons.pricing import (
    Breakdown,
    LineDiscount,
    PricingLine,
    StackingPolicy,
    TaxRate,
)
from apps.inventory import selectors as inventory_selectors

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from apps.accounts.models import User
    from apps.inventory.selectors import Availability


@dataclass(frozen=True, slots=True)
class Notice:
    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CartLineView:
    id: int
    variant_id: int
    sku: str
    title: str
    product_slug: str
    quantity: int
    unit_price_minor: int
    added_unit_price_minor: int
    subtotal_minor: int
    discount_minor: int
    total_minor: int
    discounts: tuple[LineDiscount, ...]
    notices: tuple[Notice, ...]
    max_quantity: int
    is_priced: bool
    is_gift_card: bool = False


@dataclass(frozen=True, slots=True)
class CartCouponView:
    code: str
    kind: str
    is_applied: bool
    discount_minor: int
    shipping_discount_minor: int
    error: str = ""
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CartView:
    cart: Cart
    lines: tuple[CartLineView, ...]
    coupons: tuple[CartCouponView, ...]
    breakdown: Breakdown
    notices: tuple[Notice, ...] = ()

    @property
    def id(self) -> uuid.UUID:
        return self.cart.pk

    @property
    def version(self) -> int:
        return self.cart.version

    @property
    def currency(self) -> str:
        return self.cart.currency

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)


@dataclass(frozen=True, slots=True)
class CartPricingInput:
    """The rows pricing a cart reads: loaded once, priced as often as needed.

    Checkout prices the same cart twice per request (before shipping, to
    quote it, then with shipping and tax); both passes share these rows.
    """

    cart: Cart
    lines: tuple[CartLine, ...]
    availability: dict[int, Availability]
    cart_coupons: tuple[CartCoupon, ...]
    # Without coupons the stacking rules change nothing: not read.
    policy: StackingPolicy


def _cart_has_coupons() -> RawSQL:
    # An Exists(Subquery) costs more CPU to resolve and compile than this
    # whole query takes in PostgreSQL, on every checkout request: the same
    # SQL, written out.
    qn = connection.ops.quote_name
    coupons = qn(CartCoupon._meta.db_table)
    cart_id = qn(CartCoupon._meta.get_field("cart").column)
    line_cart_id = qn(CartLine._meta.get_field("cart").column)
    # Identifiers from the models' own metadata, no values: nothing to inject.
    return RawSQL(  # noqa: S611
        f"EXISTS (SELECT 1 FROM {coupons} WHERE {coupons}.{cart_id}"  # noqa: S608
        f" = {qn(CartLine._meta.db_table)}.{line_cart_id})",
        (),
        output_field=BooleanField(),
    )


def cart_pricing_input(*, cart: Cart) -> CartPricingInput:
    """Load the cart's lines (with variants), availability and coupons.

    One query for a cart with lines and no coupon; coupons add their rows,
    rules and the stacking policy. Never a query per line or coupon.
    """
    # The lines, their variants, the variants' stock and whether the cart
    # has coupons, in one query. Sorted here, not by ORDER BY: with an
    # ordering, Django hashes each of the ~40 selected columns to match it
    # against the select list, which cost more CPU than sorting a cart's lines.
    lines = tuple(
        sorted(
            inventory_selectors.with_variant_availability(
                CartLine.objects.filter(cart=cart)
                .select_related("variant__product__category")
                .annotate(cart_has_coupons=_cart_has_coupons()),
                variant_field="variant",
            ).order_by(),
            key=lambda line: (line.created_at, line.pk),
        )
    )
    today = timezone.localdate()
    availability = {
        line.variant_id: inventory_selectors.availability_from_counts(
            line.variant,
            on_hand=getattr(line, "stock_on_hand", 0),
            reserved=getattr(line, "stock_reserved", 0),
            today=today,
        )
        for line in lines
    }
    # A cart without lines says nothing about its coupons: read them then.
    no_coupons = bool(lines) and not getattr(lines[0], "cart_has_coupons", True)
    cart_coupons = (
        ()
        if no_coupons
        else tuple(
            CartCoupon.objects.filter(cart=cart)
            .select_related("coupon")
            .prefetch_related(
                *(f"coupon__{name}" for name in coupon_selectors.COUPON_RULE_PREFETCH)
            )
            .order_by("created_at", "pk")
        )
    )
    policy = (
        coupon_selectors.stacking_policy_get() if cart_coupons else StackingPolicy()
    )
    return CartPricingInput(cart, lines, availability, cart_coupons, policy)


def cart_max_line_quantity() -> int:
    return int(getattr(settings, "CART_MAX_LINE_QUANTITY", 99))


def cart_tax_rates() -> tuple[TaxRate, ...]:
    """Estimated tax rates shown on the cart: ``[(name, basis_points), ...]``."""
    return tuple(
        TaxRate(name, int(bp)) for name, bp in getattr(settings, "CART_TAX_RATES", ())
    )


def cart_get(
    *, cart_id: uuid.UUID | str, user: User | AnonymousUser | None = None
) -> Cart:
    """Return the cart if this client may see it.

    An anonymous cart is reached by its id alone (the id is the bearer secret);
    a signed-in user's cart only by that user. Raise CartNotFound otherwise,
    never a permission error, so existence does not leak.
    """
    try:
        cart = Cart.objects.get(pk=cart_id)
    except (Cart.DoesNotExist, ValueError, TypeError):
        raise CartNotFound("Cart not found.") from None
    if cart.user_id is not None and (
        user is None or not user.is_authenticated or user.pk != cart.user_id
    ):
        raise CartNotFound("Cart not found.")
    return cart


def cart_get_open_for_user(*, user: User | AnonymousUser | None) -> Cart | None:
    if user is None or not user.is_authenticated:
        return None
    return Cart.objects.filter(user=user, status=Cart.Status.OPEN).first()


def cart_item_count(
    *,
    cart_id: uuid.UUID | str | None = None,
    user: User | AnonymousUser | None = None,
) -> int:
    """Return the number of units in the open cart, in one query."""
    lines = CartLine.objects.filter(cart__status=Cart.Status.OPEN)
    if user is not None and user.is_authenticated:
        lines = lines.filter(cart__user=user)
    elif cart_id:
        try:
            lines = lines.filter(cart_id=uuid.UUID(str(cart_id)), cart__user=None)
        except ValueError:
            return 0
    else:
        return 0
    return lines.aggregate(n=Sum("quantity"))["n"] or 0


def _line_notices(
    line: CartLine, availability: Availability | None, max_quantity: int
) -> tuple[list[Notice], bool]:
    """Return the line's notices and whether it can still be priced."""
    variant = line.variant
    notices: list[Notice] = []
    if availability is None or not (variant.is_active and variant.product.is_active):
        notices.append(
            Notice(
                "unavailable",
                f"{variant.sku} is no longer sold; remove it to continue.",
                {"sku": variant.sku},
            )
        )
        return notices, False
    if variant.price_minor != line.unit_price_minor:
        went = "up" if variant.price_minor > line.unit_price_minor else "down"
        notices.append(
            Notice(
                "price_changed",
                f"The price went {went} since you added this item.",
                {
                    "previous": money_api(line.unit_price_minor, variant.currency),
                    "current": money_api(variant.price_minor, variant.currency),
                },
            )
        )
    if availability.track_stock and not availability.allow_backorder:
        if availability.available == 0:
            notices.append(
                Notice(
                    "out_of_stock",
                    "This item is out of stock; remove it to continue.",
                    {"available": 0},
                )
            )
        elif line.quantity > availability.available:
            notices.append(
                Notice(
                    "quantity_exceeds_availability",
                    f"Only {availability.available} left; lower the quantity "
                    "to continue.",
                    {"available": availability.available},
                )
            )
    elif availability.track_stock and line.quantity > availability.available:
        ships = availability.expected_ship_date
        notices.append(
            Notice(
                "backorder",
                f"{line.quantity - availability.available} of these are on "
                "backorder"
                + (f" and expected to ship by {ships:%Y-%m-%d}." if ships else "."),
                {
                    "backordered": line.quantity - availability.available,
                    "expected_ship_date": ships.isoformat() if ships else None,
                },
            )
        )
    if line.quantity > max_quantity:
        notices.append(
            Notice(
                "max_per_order_exceeded",
                f"At most {max_quantity} per order.",
                {"max": max_quantity},
            )
        )
    return notices, True


def cart_view(
    *,
    cart: Cart,
    user: User | AnonymousUser | None = None,
    shipping_minor: int = 0,
    tax_rates: tuple[TaxRate, ...] | None = None,
    customer_order_count: int | None = None,
    email: str = "",
    notices: tuple[Notice, ...] = (),
    loaded: CartPricingInput | None = None,
) -> CartView:
    """Re-price the cart against the catalogue and its coupons' current rules.

    ``email`` (known at checkout) lets per-customer and first-order coupon
    rules count a guest's earlier orders too, as redemption will. Pass
    ``loaded`` (from ``cart_pricing_input``) to price rows already read.
    """
    loaded = loaded or cart_pricing_input(cart=cart)
    lines = loaded.lines
    availability = loaded.availability
    cart_coupons = loaded.cart_coupons
    global_cap = cart_max_line_quantity()

    pricing_lines: list[PricingLine] = []
    line_state: list[tuple[CartLine, list[Notice], bool, int]] = []
    for line in lines:
        variant = line.variant
        cap = min(global_cap, variant.max_per_order or global_cap)
        line_notices, priced = _line_notices(
            line, availability.get(line.variant_id), cap
        )
        line_state.append((line, line_notices, priced, cap))
        if priced:
            category = variant.product.category
            pricing_lines.append(
                PricingLine(
                    key=variant.pk,
                    variant_id=variant.pk,
                    quantity=line.quantity,
                    unit_price_minor=variant.price_minor,
                    product_id=variant.product_id,
                    category_ids=frozenset(
                        c for c in (category.pk, category.parent_id) if c
                    ),
                    discountable=not variant.is_gift_card,
                )
            )

    signed_in = user is not None and user.is_authenticated
    if signed_in and not email:
        # Their orders' default email, which redemption counts by too.
        email = getattr(user, "email", "")
    customer_key = coupon_selectors.customer_key_for(
        user_id=getattr(user, "pk", None) if signed_in else None, email=email
    )
    if customer_order_count is None and not cart_coupons:
        # Only coupon rules (first order) read the count: none, no query.
        customer_order_count = 0
    if customer_order_count is None:
        customer_order_count = coupon_selectors.customer_order_count(
            customer_key=customer_key
        )
    evaluation = coupon_services.coupons_evaluate(
        coupons=[cc.coupon for cc in cart_coupons],
        lines=pricing_lines,
        currency=cart.currency,
        shipping_minor=shipping_minor,
        tax_rates=cart_tax_rates() if tax_rates is None else tax_rates,
        customer_key=customer_key,
        customer_email=email,
        customer_order_count=customer_order_count,
        policy=loaded.policy,
    )
    breakdown = evaluation.breakdown

    line_views = []
    for line, line_notices, priced, cap in line_state:
        variant = line.variant
        priced_line = breakdown.line(variant.pk) if priced else None
        line_views.append(
            CartLineView(
                id=line.pk,
                variant_id=variant.pk,
                sku=variant.sku,
                title=f"{variant.product.title} {variant.display_title}".strip(),
                product_slug=variant.product.slug,
                is_gift_card=variant.is_gift_card,
                quantity=line.quantity,
                unit_price_minor=variant.price_minor,
                added_unit_price_minor=line.unit_price_minor,
                subtotal_minor=priced_line.subtotal_minor if priced_line else 0,
                discount_minor=priced_line.discount_minor if priced_line else 0,
                total_minor=priced_line.total_minor if priced_line else 0,
                discounts=priced_line.discounts if priced_line else (),
                notices=tuple(line_notices),
                max_quantity=cap,
                is_priced=priced,
            )
        )

    applied = {a.code.upper(): a for a in breakdown.applied}
    coupon_views = []
    for cc in cart_coupons:
        code = cc.coupon.code
        if code.upper() in applied:
            a = applied[code.upper()]
            coupon_views.append(
                CartCouponView(
                    code,
                    cc.coupon.kind,
                    True,
                    a.discount_minor,
                    a.shipping_discount_minor,
                )
            )
        else:
            refusal = evaluation.refusal(code)
            coupon_views.append(
                CartCouponView(
                    code,
                    cc.coupon.kind,
                    False,
                    0,
                    0,
                    refusal.error if refusal else "coupon_not_applicable",
                    refusal.message if refusal else "",
                    dict(refusal.details) if refusal else {},
                )
            )
    return CartView(
        cart=cart,
        lines=tuple(line_views),
        coupons=tuple(coupon_views),
        breakdown=breakdown,
        notices=tuple(notices),
    )
