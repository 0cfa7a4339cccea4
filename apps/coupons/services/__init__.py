"""Coupon writes and checks: validation, pricing with coupons, redemption."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.coupons import selectors
from apps.coupons.exceptions import CouponNotApplicable
from apps.coupons.models import Coupon, CouponRedemption
from apps.coupons.pricing import (
    Breakdown,
    PricingLine,
    RejectedCoupon,
    StackingPolicy,
    TaxRate,
    price,
)


def _refusal(coupon: Coupon, code: str, message: str, **details: Any) -> RejectedCoupon:
    return RejectedCoupon(coupon.code, code, message, {"code": coupon.code, **details})


ORDERS = "orders"
SUBSCRIPTIONS = "subscriptions"


def _target_refusal(coupon: Coupon, target: str) -> RejectedCoupon | None:
    if target == SUBSCRIPTIONS and not coupon.is_for_subscriptions:
        return _refusal(
            coupon,
            "coupon_not_valid_for_subscriptions",
            f"Coupon {coupon.code} cannot be used on subscriptions.",
            applies_to=coupon.applies_to,
        )
    if target == ORDERS and not coupon.is_for_orders:
        return _refusal(
            coupon,
            "coupon_not_valid_for_orders",
            f"Coupon {coupon.code} is for subscriptions only.",
            applies_to=coupon.applies_to,
        )
    return None


def coupon_status_refusal(
    *,
    coupon: Coupon,
    target: str = ORDERS,
    now: datetime | None = None,
    customer_key: str | None = None,
    customer_redemptions: int = 0,
    customer_order_count: int | None = None,
) -> RejectedCoupon | None:
    """Return why the coupon cannot be used right now (ignoring the lines), or None.

    ``target`` is ``ORDERS`` or ``SUBSCRIPTIONS``: a coupon for the other one
    only is refused first. ``customer_order_count`` is supplied by the caller
    (coupons never read orders); None means unknown, and first-order-only is
    then left for checkout.
    """
    now = now or timezone.now()
    target_refusal = _target_refusal(coupon, target)
    if target_refusal:
        return target_refusal
    if not coupon.is_active:
        return _refusal(
            coupon, "coupon_inactive", f"Coupon {coupon.code} is not active."
        )
    if coupon.starts_at and now < coupon.starts_at:
        return _refusal(
            coupon,
            "coupon_not_started",
            f"Coupon {coupon.code} is not valid yet.",
            starts_at=coupon.starts_at.isoformat(),
        )
    if coupon.ends_at and now >= coupon.ends_at:
        return _refusal(
            coupon,
            "coupon_expired",
            f"Coupon {coupon.code} has expired.",
            ended_at=coupon.ends_at.isoformat(),
        )
    if coupon.usage_limit is not None and coupon.times_redeemed >= coupon.usage_limit:
        return _refusal(
            coupon,
            "coupon_usage_limit_reached",
            f"Coupon {coupon.code} has been fully used.",
        )
    if (
        customer_key
        and coupon.per_customer_limit is not None
        and customer_redemptions >= coupon.per_customer_limit
    ):
        return _refusal(
            coupon,
            "coupon_customer_limit_reached",
            f"You have already used coupon {coupon.code}"
            f" {customer_redemptions} time(s), the maximum allowed.",
            limit=coupon.per_customer_limit,
        )
    if coupon.is_first_order_only and customer_order_count:
        return _refusal(
            coupon,
            "coupon_first_order_only",
            f"Coupon {coupon.code} is only valid on a first order.",
        )
    return None


@dataclass(frozen=True, slots=True)
class Evaluation:
    """A priced basket plus every coupon refused, in the order given."""

    breakdown: Breakdown
    refused: tuple[RejectedCoupon, ...]

    def refusal(self, code: str) -> RejectedCoupon | None:
        for item in self.refused:
            if item.code.upper() == code.upper():
                return item
        return None


def coupons_evaluate(
    *,
    coupons: Sequence[Coupon],
    lines: Sequence[PricingLine],
    currency: str,
    shipping_minor: int = 0,
    tax_rates: Sequence[TaxRate] = (),
    customer_key: str | None = None,
    customer_email: str = "",
    customer_order_count: int | None = None,
    policy: StackingPolicy | None = None,
    now: datetime | None = None,
) -> Evaluation:
    """Check each coupon's status, then price the lines with the usable ones.

    Coupons must come with their rule M2Ms prefetched (see
    ``selectors.coupons_for_ids``). Runs at most two queries (stacking rules and
    the customer's redemption counts), whatever the number of lines.
    """
    now = now or timezone.now()
    policy = policy or selectors.stacking_policy_get()
    limited = [c.pk for c in coupons if c.per_customer_limit is not None]
    counts = selectors.customer_redemption_counts(
        coupon_ids=limited, customer_key=customer_key, email=customer_email
    )
    refused: list[RejectedCoupon] = []
    usable = []
    for coupon in coupons:
        refusal = coupon_status_refusal(
            coupon=coupon,
            now=now,
            customer_key=customer_key,
            customer_redemptions=counts.get(coupon.pk, 0),
            customer_order_count=customer_order_count,
        )
        if refusal:
            refused.append(refusal)
        else:
            usable.append(selectors.coupon_rule(coupon))
    breakdown = price(
        lines=lines,
        coupons=usable,
        currency=currency,
        shipping_minor=shipping_minor,
        tax_rates=tax_rates,
        policy=policy,
    )
    return Evaluation(breakdown=breakdown, refused=(*refused, *breakdown.rejected))


def _raise(refusal: RejectedCoupon) -> None:
    raise CouponNotApplicable(
        refusal.message, code=refusal.error, details=dict(refusal.details)
    )


@transaction.atomic
def coupon_redeem(
    *,
    code: str,
    order_ref: str,
    customer_key: str,
    discount_minor: int,
    currency: str,
    customer_order_count: int = 0,
    user_id: int | None = None,
    email: str = "",
    now: datetime | None = None,
    target: str = ORDERS,
) -> CouponRedemption:
    """Count one use of a coupon by an order; call inside the order transaction.

    The coupon row is locked, so the per-customer count and the total limit are
    checked and incremented as one step; the increment is also a conditional
    UPDATE guarded by a check constraint. Redeeming the same order twice returns
    the first redemption. Per-customer limits count redemptions under
    ``customer_key`` or ``email`` alike. Raise CouponNotFound or
    CouponNotApplicable (with the specific code) when the coupon cannot be
    redeemed.
    """
    found = selectors.coupon_get_by_code(code=code)
    coupon = Coupon.objects.select_for_update().get(pk=found.pk)
    existing = CouponRedemption.objects.filter(
        coupon=coupon, order_ref=order_ref
    ).first()
    if existing:
        return existing
    # The coupon row is locked, so this count cannot race another redemption.
    email = email.strip().lower()
    same_customer = selectors.same_customer_q(customer_key=customer_key, email=email)
    customer_redemptions = CouponRedemption.objects.filter(
        same_customer or Q(pk__in=[]), coupon=coupon
    ).count()
    refusal = coupon_status_refusal(
        coupon=coupon,
        target=target,
        now=now,
        customer_key=customer_key,
        customer_redemptions=customer_redemptions,
        customer_order_count=customer_order_count,
    )
    if refusal:
        _raise(refusal)
    claimed = (
        Coupon.objects.filter(pk=coupon.pk)
        .filter(Q(usage_limit__isnull=True) | Q(times_redeemed__lt=F("usage_limit")))
        .update(times_redeemed=F("times_redeemed") + 1, updated_at=timezone.now())
    )
    if not claimed:
        _raise(
            _refusal(
                coupon,
                "coupon_usage_limit_reached",
                f"Coupon {coupon.code} has been fully used.",
            )
        )
    redemption = CouponRedemption(
        coupon=coupon,
        target=(
            CouponRedemption.Target.SUBSCRIPTION
            if target == SUBSCRIPTIONS
            else CouponRedemption.Target.ORDER
        ),
        order_ref=order_ref,
        customer_key=customer_key,
        user_id=user_id,
        email=email,
        discount_minor=discount_minor,
        currency=currency,
    )
    redemption.full_clean()
    redemption.save()
    return redemption


# First argument of the two-key advisory lock: keeps these locks apart from
# any other user of PostgreSQL advisory locks on the same database.
_CUSTOMER_LOCK_SPACE = int.from_bytes(b"cpcu", "big") & 0x7FFFFFFF


def _advisory_key(customer_key: str) -> int:
    digest = hashlib.blake2b(customer_key.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


def customer_redemptions_lock(*, customer_keys: Iterable[str]) -> None:
    """Serialise one customer's redemptions until the current transaction ends.

    Per-customer rules (first order, per-customer limit) read counts that no
    coupon row lock covers: two different first-order coupons share no row.
    Each key (``user:<id>``, ``email:<address>``) takes a PostgreSQL
    transaction-level advisory lock, in sorted order so that two callers with
    overlapping keys cannot deadlock; take it before locking coupon rows, and
    read the counts the rules need after it. On SQLite, whose writers queue
    on the whole database, it does nothing. Raise TransactionManagementError
    outside a transaction, where the lock would be dropped at once.
    """
    keys = sorted({key.strip().lower() for key in customer_keys if key.strip()})
    if not keys or connection.vendor != "postgresql":
        return
    if not connection.in_atomic_block:
        raise transaction.TransactionManagementError(
            "customer_redemptions_lock needs an open transaction."
        )
    with connection.cursor() as cursor:
        for key in keys:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)",
                [_CUSTOMER_LOCK_SPACE, _advisory_key(key)],
            )


@dataclass(frozen=True, slots=True)
class RedemptionRequest:
    """One coupon an order uses, with the discount it gave."""

    code: str
    discount_minor: int


@transaction.atomic
def order_coupons_redeem(
    *,
    requests: Sequence[RedemptionRequest],
    order_ref: str,
    customer_key: str,
    currency: str,
    customer_order_count: int,
    user_id: int | None = None,
    email: str = "",
) -> list[CouponRedemption]:
    """Count every coupon an order uses, all or none, locking coupon rows in
    primary-key order.

    The caller holds ``customer_redemptions_lock`` for the customer and read
    ``customer_order_count`` after taking it, so a concurrent order of the same
    customer has either committed (and is counted) or waits. Raise
    CouponNotFound or CouponNotApplicable as ``coupon_redeem`` does.
    """
    coupons = [
        (selectors.coupon_get_by_code(code=request.code), request)
        for request in requests
    ]
    coupons.sort(key=lambda pair: pair[0].pk)
    return [
        coupon_redeem(
            code=coupon.code,
            order_ref=order_ref,
            customer_key=customer_key,
            discount_minor=request.discount_minor,
            currency=currency,
            customer_order_count=customer_order_count,
            user_id=user_id,
            email=email,
        )
        for coupon, request in coupons
    ]


@transaction.atomic
def coupon_redemptions_release(*, order_ref: str, coupon_id: int | None = None) -> int:
    """Give back the uses an order counted (order cancelled before payment).

    With ``coupon_id``, only that coupon's use.
    """
    released = 0
    redemptions = CouponRedemption.objects.select_for_update().filter(
        order_ref=order_ref
    )
    if coupon_id is not None:
        redemptions = redemptions.filter(coupon_id=coupon_id)
    for redemption in redemptions.order_by("coupon_id"):
        Coupon.objects.filter(pk=redemption.coupon_id, times_redeemed__gt=0).update(
            times_redeemed=F("times_redeemed") - 1, updated_at=timezone.now()
        )
        redemption.delete()
        released += 1
    return released


_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


def _random_code(prefix: str, length: int) -> str:
    return prefix + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(length))


@transaction.atomic
def coupon_generate_codes(
    *, template: Coupon, count: int, prefix: str = "", length: int = 10
) -> list[Coupon]:
    """Create ``count`` single-use copies of ``template`` with unique random codes.

    Raise ValueError when count is not between 1 and 10,000.
    """
    if not 1 <= count <= 10_000:
        raise ValueError("count must be between 1 and 10,000")
    prefix = prefix.strip().upper()
    m2m = {
        name: list(getattr(template, name).all())
        for name in (
            "include_products",
            "include_variants",
            "include_categories",
            "exclude_products",
            "exclude_variants",
            "exclude_categories",
        )
    }
    created: list[Coupon] = []
    while len(created) < count:
        code = _random_code(prefix, length)
        coupon = Coupon(
            code=code,
            kind=template.kind,
            value=template.value,
            currency=template.currency,
            minimum_subtotal_minor=template.minimum_subtotal_minor,
            maximum_discount_minor=template.maximum_discount_minor,
            starts_at=template.starts_at,
            ends_at=template.ends_at,
            is_active=template.is_active,
            usage_limit=1,
            per_customer_limit=1,
            is_first_order_only=template.is_first_order_only,
            is_combinable=template.is_combinable,
            priority=template.priority,
            buy_quantity=template.buy_quantity,
            get_quantity=template.get_quantity,
            generated_from=template,
        )
        try:
            with transaction.atomic():
                coupon.save()
        except IntegrityError:
            continue  # code collision: draw another
        for name, objects in m2m.items():
            if objects:
                getattr(coupon, name).set(objects)
        created.append(coupon)
    return created
