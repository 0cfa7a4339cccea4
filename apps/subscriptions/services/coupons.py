"""Coupons on subscriptions: check, count, push to Stripe, and staff apply.

The coupon's use is counted in our database first, in the transaction that
writes our subscription row (or, for staff, a transaction of its own), so the
limits are exact under concurrency as for orders. Stripe only gets a coupon
with the terms (pushed lazily and idempotently, under an id that names the
terms) and the subscription references it. A Stripe refusal gives the use back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction

from apps.billing import gateway
from apps.billing.gateway import subscription_admin as gw_admin
from apps.core.exceptions import ApplicationError
from apps.coupons import selectors as coupon_selectors
from apps.coupons.services import subscription as coupon_services
from apps.subscriptions.models import (
    LIVE_STATUSES,
    PlanPrice,
    Subscription,
    SubscriptionEvent,
    SubscriptionStatus,
)
from apps.subscriptions.services.staff import StaffActionRefused, _key
from apps.subscriptions.services.sync import subscription_apply

if TYPE_CHECKING:
    from apps.accounts.models import User
    from apps.coupons.models import Coupon, CouponRedemption

NEVER_STARTED = (SubscriptionStatus.INCOMPLETE, SubscriptionStatus.INCOMPLETE_EXPIRED)
TAKES_COUPON = tuple(s for s in LIVE_STATUSES if s != SubscriptionStatus.INCOMPLETE)


def _started_count(*, user_id: int, exclude_id: int) -> int:
    # "First order only" on a subscription means the user's first one.
    return (
        Subscription.objects.filter(user_id=user_id)
        .exclude(pk=exclude_id)
        .exclude(status__in=NEVER_STARTED)
        .count()
    )


def subscription_coupon_redeem(
    *, subscription: Subscription, code: str, price: PlanPrice
) -> CouponRedemption:
    """Count the coupon's use by this subscription; call in its transaction.

    Raise CouponNotFound or CouponNotApplicable (the caller's transaction then
    rolls back, so nothing is written).
    """
    user = subscription.user
    return coupon_services.subscription_coupon_redeem(
        code=code,
        subscription_id=subscription.pk,
        currency=price.currency,
        amount_minor=price.amount_minor,
        user_id=user.pk,
        email=user.email,
        customer_subscription_count=_started_count(
            user_id=user.pk, exclude_id=subscription.pk
        ),
    )


def subscription_coupon_release(*, subscription_id: int) -> int:
    """Give back the coupon uses of a subscription that never started."""
    return coupon_services.subscription_coupon_release(subscription_id=subscription_id)


def subscription_stripe_coupon(*, subscription_id: int) -> str:
    """Push the coupon counted for this subscription; its Stripe id, or ""."""
    coupon = coupon_selectors.subscription_coupon_redeemed(
        subscription_ref=coupon_services.subscription_ref(subscription_id)
    )
    return stripe_coupon_push(coupon=coupon) if coupon else ""


def stripe_coupon_push(*, coupon: Coupon) -> str:
    """Make sure Stripe has the coupon with these terms; return its id."""
    terms = coupon_services.coupon_stripe_terms(coupon=coupon)
    snap = gateway.coupon_ensure(
        coupon_id=terms.id,
        duration=terms.duration,
        percent_off=terms.percent_off,
        amount_off_minor=terms.amount_off_minor,
        currency=terms.currency,
        duration_in_months=terms.duration_in_months,
        name=terms.name,
    )
    return snap.id


def subscription_coupon_apply(
    *, subscription_id: int, code: str, staff: User
) -> Subscription:
    """Discount a live subscription's next invoices with a coupon (staff).

    The use is counted first (its own transaction), then the coupon is pushed
    and set on the subscription at Stripe; a Stripe refusal gives the use back.
    Raise StaffActionRefused for a subscription that is not live (or still
    unconfirmed) or already counted this coupon (code coupon_already_applied),
    CouponNotFound or CouponNotApplicable.
    """
    sub = Subscription.objects.select_related("price", "user").get(pk=subscription_id)
    # An unconfirmed one's first invoice is already final: no discount would show.
    if sub.status not in TAKES_COUPON or not sub.stripe_id:
        raise StaffActionRefused(f"A {sub.status} subscription takes no coupon.")
    current = coupon_selectors.subscription_coupon_redeemed(
        subscription_ref=coupon_services.subscription_ref(sub.pk), code=code
    )
    if current is not None:
        # Again at Stripe would restart the coupon's duration.
        raise StaffActionRefused(
            f"Coupon {current.code} was applied to it already.",
            code="coupon_already_applied",
        )
    with transaction.atomic():
        redemption = subscription_coupon_redeem(
            subscription=sub, code=code, price=sub.price
        )
    coupon = redemption.coupon
    try:
        stripe_coupon = stripe_coupon_push(coupon=coupon)
        snap = gw_admin.subscription_discount_set(
            subscription_id=sub.stripe_id,
            coupon_id=stripe_coupon,
            idempotency_key=f"{_key('coupon', sub)}-{stripe_coupon}",
        )
    except ApplicationError:
        coupon_services.subscription_coupon_release(
            subscription_id=sub.pk, coupon_id=coupon.pk
        )
        raise
    after = subscription_apply(
        subscription_id=sub.pk, snap=snap, reason="coupon_applied", actor="stripe"
    )
    SubscriptionEvent.objects.create(
        subscription=after,
        from_status=after.status,
        to_status=after.status,
        reason="coupon_applied",
        actor=f"staff:{staff.pk}",
        details={"coupon": coupon.code, "stripe_coupon": stripe_coupon},
    )
    return after
