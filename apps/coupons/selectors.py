"""Coupon reads: lookups by code, the stacking policy and rule value objects."""

from collections.abc import Callable, Iterable

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Lower

from apps.coupons.exceptions import CouponNotFound
from apps.coupons.models import Coupon, CouponRedemption, StackingSettings
from apps.coupons.pricing import CouponRule, StackingPolicy

COUPON_RULE_PREFETCH = (
    "include_products",
    "include_variants",
    "include_categories",
    "exclude_products",
    "exclude_variants",
    "exclude_categories",
)

# Coupons never read orders. Checkout registers a function here (in its
# AppConfig.ready) that answers "how many orders has this customer placed?".
_order_count_provider: Callable[[str], int] | None = None


def customer_order_count_provider_register(
    provider: Callable[[str], int] | None,
) -> None:
    """Register the function that counts a customer's placed orders."""
    global _order_count_provider
    _order_count_provider = provider


def customer_order_count_provider_get() -> Callable[[str], int] | None:
    """Return the registered order-count function (None before checkout's)."""
    return _order_count_provider


def customer_order_count(*, customer_key: str | None) -> int | None:
    """Return the customer's order count, or None when it cannot be known."""
    if not customer_key or _order_count_provider is None:
        return None
    return _order_count_provider(customer_key)


def customer_key_for(*, user_id: int | None = None, email: str = "") -> str | None:
    """Return the key per-customer limits count by: the user, else the email."""
    if user_id:
        return f"user:{user_id}"
    if email:
        return f"email:{email.strip().lower()}"
    return None


def _by_codes(codes: Iterable[str]) -> QuerySet[Coupon]:
    lowered = [code.strip().lower() for code in codes]
    return Coupon.objects.alias(code_lower=Lower("code")).filter(code_lower__in=lowered)


def coupon_get_by_code(*, code: str) -> Coupon:
    """Return the coupon with this code (any case). Raise CouponNotFound."""
    coupon = _by_codes([code]).prefetch_related(*COUPON_RULE_PREFETCH).first()
    if coupon is None:
        raise CouponNotFound(
            f"There is no coupon {code.strip().upper()!s}.",
            details={"code": code.strip().upper()},
        )
    return coupon


def coupons_for_ids(*, ids: Iterable[int]) -> dict[int, Coupon]:
    """Return coupons by id with everything coupon_rule() needs prefetched."""
    ids = list(ids)
    if not ids:
        return {}
    return {
        c.pk: c
        for c in Coupon.objects.filter(pk__in=ids).prefetch_related(
            *COUPON_RULE_PREFETCH
        )
    }


def coupon_rule(coupon: Coupon) -> CouponRule:
    """Return the engine's value object for a coupon (M2Ms must be prefetched)."""

    def ids(name: str) -> frozenset[int]:
        return frozenset(obj.pk for obj in getattr(coupon, name).all())

    return CouponRule(
        code=coupon.code,
        kind=coupon.kind,
        value=coupon.value,
        currency=coupon.currency,
        minimum_subtotal_minor=coupon.minimum_subtotal_minor,
        maximum_discount_minor=coupon.maximum_discount_minor,
        priority=coupon.priority,
        is_combinable=coupon.is_combinable,
        buy_quantity=coupon.buy_quantity,
        get_quantity=coupon.get_quantity,
        include_product_ids=ids("include_products"),
        include_variant_ids=ids("include_variants"),
        include_category_ids=ids("include_categories"),
        exclude_product_ids=ids("exclude_products"),
        exclude_variant_ids=ids("exclude_variants"),
        exclude_category_ids=ids("exclude_categories"),
    )


def stacking_policy_get() -> StackingPolicy:
    """Return the admin-edited stacking rules (defaults when never saved)."""
    row = StackingSettings.objects.filter(pk=1).first() or StackingSettings(pk=1)
    return StackingPolicy(
        max_coupons=row.max_coupons_per_order,
        percentage_with_fixed=row.percentage_combines_with_fixed,
        multiple_percentage=row.multiple_percentage_combine,
        free_shipping_combines=row.free_shipping_combines,
    )


def same_customer_q(*, customer_key: str | None, email: str = "") -> Q | None:
    """Match one shopper's redemptions, signed in or not: by key or by email.

    The preview and the redemption count alike, so a coupon the shopper has
    used up is refused before payment rather than refunded after it.
    """
    email = email.strip().lower()
    match = Q(customer_key=customer_key) if customer_key else None
    if email:
        by_email = Q(email=email) | Q(customer_key=f"email:{email}")
        match = by_email if match is None else match | by_email
    return match


def customer_redemption_counts(
    *, coupon_ids: Iterable[int], customer_key: str | None, email: str = ""
) -> dict[int, int]:
    """Return how often this customer redeemed each coupon."""
    coupon_ids = list(coupon_ids)
    same_customer = same_customer_q(customer_key=customer_key, email=email)
    if same_customer is None or not coupon_ids:
        return {}
    rows = (
        CouponRedemption.objects.filter(same_customer, coupon_id__in=coupon_ids)
        .values("coupon_id")
        .annotate(n=Count("id"))
    )
    return {row["coupon_id"]: row["n"] for row in rows}


def coupon_list_with_stats() -> QuerySet[Coupon]:
    """Return coupons annotated with their redemption count.

    The discount given is per currency: see coupon_discount_totals().
    """
    return Coupon.objects.annotate(redemption_count=Count("redemptions"))


def coupon_discount_totals(*, coupon_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Return the discount given per coupon and currency, in one query.

    A coupon without a currency bound (a percentage) is redeemed in whatever
    currency each order was in; those amounts cannot be added together.
    """
    coupon_ids = list(coupon_ids)
    if not coupon_ids:
        return {}
    rows = (
        CouponRedemption.objects.filter(coupon_id__in=coupon_ids)
        .values("coupon_id", "currency")
        .annotate(total=Sum("discount_minor"))
        .order_by("coupon_id", "currency")
    )
    totals: dict[int, dict[str, int]] = {}
    for row in rows:
        totals.setdefault(row["coupon_id"], {})[row["currency"]] = int(row["total"])
    return totals


def subscription_coupon_redeemed(
    *, subscription_ref: str, code: str = ""
) -> Coupon | None:
    """Return the coupon counted for this subscription first (or ``code``'s)."""
    redemptions = CouponRedemption.objects.select_related("coupon").filter(
        order_ref=subscription_ref, target=CouponRedemption.Target.SUBSCRIPTION
    )
    if code:
        redemptions = redemptions.filter(coupon__code__iexact=code.strip())
    redemption = redemptions.order_by("created_at", "pk").first()
    return redemption.coupon if redemption else None


def redemptions_for_ref(*, order_ref: str) -> list[CouponRedemption]:
    """Every coupon use counted for one order or subscription, oldest first."""
    return list(
        CouponRedemption.objects.select_related("coupon")
        .filter(order_ref=order_ref)
        .order_by("created_at", "pk")
    )
