"""Coupons on subscriptions: which coupon may discount a price, and its count.

A subscription takes one percentage or fixed amount coupon whose
``applies_to`` includes subscriptions. Stripe applies the discount to the
invoices (``duration``); here the use is counted once per subscription, under
the same locks and limits as an order's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction

from apps.core.money import basis_points_as_percent, percent_of
from apps.coupons import selectors
from apps.coupons.models import Coupon, CouponRedemption
from apps.coupons.services import (
    SUBSCRIPTIONS,
    _raise,
    _refusal,
    coupon_redeem,
    coupon_redemptions_release,
    coupon_status_refusal,
    customer_redemptions_lock,
)

# A subscription's redemptions carry order_ref = this prefix + its id.
SUBSCRIPTION_REF_PREFIX = "subscription-"


def subscription_ref(subscription_id: int) -> str:
    """The redemption reference of a subscription (orders use their number)."""
    return f"{SUBSCRIPTION_REF_PREFIX}{subscription_id}"


@dataclass(frozen=True, slots=True)
class StripeCouponTerms:
    """What a Stripe coupon for this coupon says, in Stripe's own terms."""

    id: str
    name: str
    percent_off: Decimal | None
    amount_off_minor: int | None
    currency: str
    duration: str
    duration_in_months: int | None


def coupon_stripe_terms(*, coupon: Coupon) -> StripeCouponTerms:
    """Describe the Stripe coupon to push for ``coupon``."""
    is_percent = coupon.kind == Coupon.Kind.PERCENTAGE
    return StripeCouponTerms(
        id=coupon.stripe_coupon_id,
        name=coupon.code,
        percent_off=basis_points_as_percent(coupon.value) if is_percent else None,
        amount_off_minor=None if is_percent else coupon.value,
        currency=coupon.currency,
        duration=coupon.duration,
        duration_in_months=coupon.duration_in_months,
    )


def subscription_discount_minor(*, coupon: Coupon, amount_minor: int) -> int:
    """The discount on one invoice of ``amount_minor`` (what Stripe takes off)."""
    if coupon.kind == Coupon.Kind.PERCENTAGE:
        return percent_of(amount_minor, coupon.value)
    return min(coupon.value, amount_minor)


def _price_refusal(coupon: Coupon, *, currency: str, amount_minor: int) -> None:
    if coupon.kind == Coupon.Kind.FIXED_AMOUNT and coupon.currency != currency:
        _raise(
            _refusal(
                coupon,
                "coupon_not_applicable",
                f"Coupon {coupon.code} applies only to {coupon.currency} prices.",
                currency=coupon.currency,
            )
        )
    if coupon.minimum_subtotal_minor and (
        coupon.currency != currency or amount_minor < coupon.minimum_subtotal_minor
    ):
        _raise(
            _refusal(
                coupon,
                "coupon_minimum_not_met",
                f"Coupon {coupon.code} needs a larger price.",
                minimum_minor=coupon.minimum_subtotal_minor,
                currency=coupon.currency,
            )
        )


def subscription_coupon_get(
    *,
    code: str,
    currency: str,
    amount_minor: int,
    user_id: int,
    email: str = "",
    now: datetime | None = None,
) -> Coupon:
    """Return the coupon if it can discount a subscription at this price now.

    A check before anything is written; ``subscription_coupon_redeem`` checks
    again under the locks. Raise CouponNotFound, or CouponNotApplicable with
    the specific code (``coupon_not_valid_for_subscriptions`` for a coupon for
    orders only).
    """
    coupon = selectors.coupon_get_by_code(code=code)
    key = selectors.customer_key_for(user_id=user_id, email=email)
    counts = selectors.customer_redemption_counts(
        coupon_ids=[coupon.pk], customer_key=key, email=email
    )
    refusal = coupon_status_refusal(
        coupon=coupon,
        target=SUBSCRIPTIONS,
        now=now,
        customer_key=key,
        customer_redemptions=counts.get(coupon.pk, 0),
    )
    if refusal:
        _raise(refusal)
    _price_refusal(coupon, currency=currency.upper(), amount_minor=amount_minor)
    return coupon


@transaction.atomic
def subscription_coupon_redeem(
    *,
    code: str,
    subscription_id: int,
    currency: str,
    amount_minor: int,
    user_id: int,
    email: str = "",
    customer_subscription_count: int = 0,
) -> CouponRedemption:
    """Count one use of a coupon by a subscription, exactly under concurrency.

    Call inside the transaction that writes the subscription row (or applies
    the coupon to it), before Stripe is asked: a refusal then rolls it back.
    The customer's lock and the coupon row lock are the ones orders take, so
    the total and per-customer limits hold across orders and subscriptions.
    ``customer_subscription_count`` plays the order count for first-order-only
    coupons. A second call for the same subscription returns the first use.
    Raise CouponNotFound or CouponNotApplicable.
    """
    existing = CouponRedemption.objects.filter(
        order_ref=subscription_ref(subscription_id), coupon__code__iexact=code.strip()
    ).first()
    if existing is not None:
        return existing
    key = selectors.customer_key_for(user_id=user_id, email=email) or ""
    customer_redemptions_lock(
        customer_keys=[key, f"email:{email}" if email else ""],
    )
    coupon = subscription_coupon_get(
        code=code,
        currency=currency,
        amount_minor=amount_minor,
        user_id=user_id,
        email=email,
    )
    return coupon_redeem(
        code=coupon.code,
        order_ref=subscription_ref(subscription_id),
        customer_key=key,
        discount_minor=subscription_discount_minor(
            coupon=coupon, amount_minor=amount_minor
        ),
        currency=currency.upper(),
        customer_order_count=customer_subscription_count,
        user_id=user_id,
        email=email,
        target=SUBSCRIPTIONS,
    )


def subscription_coupon_release(
    *, subscription_id: int, coupon_id: int | None = None
) -> int:
    """Give back the uses of a subscription that never started (or one use)."""
    return coupon_redemptions_release(
        order_ref=subscription_ref(subscription_id), coupon_id=coupon_id
    )
