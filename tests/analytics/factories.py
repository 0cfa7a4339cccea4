"""Subscription histories written straight as our event rows, at chosen times."""

import datetime as dt

from apps.coupons.models import CouponRedemption
from apps.coupons.services.subscription import subscription_ref
from apps.subscriptions.models import PlanPrice, Subscription, SubscriptionEvent
from tests.accounts.factories import UserFactory
from tests.coupons.factories import CouponFactory, CouponRedemptionFactory


def at(day: str, hour: int = 12) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=dt.UTC)


def history(steps, *, user=None) -> Subscription:
    """Create a subscription and its events.

    ``steps``: (when, to_status, price, extra details) in time order; a step
    whose price differs from the previous one records the price change as
    subscription_apply does (details from_price/to_price).
    """
    user = user or UserFactory()
    first_when, _, first_price, _ = steps[0]
    price: PlanPrice = first_price
    status = ""
    rows = []
    for when, to_status, step_price, extra in steps:
        details = dict(extra or {})
        if step_price.pk != price.pk:
            details.update(from_price=price.pk, to_price=step_price.pk)
            price = step_price
        rows.append((when, status, to_status, price, details))
        status = to_status
    sub = Subscription.objects.create(
        user=user, price=price, status=status, stripe_id=f"sub_h{user.pk}_{len(rows)}"
    )
    Subscription.objects.filter(pk=sub.pk).update(created_at=first_when)
    for when, source, to, row_price, details in rows:
        event = SubscriptionEvent.objects.create(
            subscription=sub,
            from_status=source,
            to_status=to,
            reason="test",
            actor="system",
            amount_minor=row_price.amount_minor,
            currency=row_price.currency,
            details=details,
        )
        SubscriptionEvent.objects.filter(pk=event.pk).update(created_at=when)
    return sub


def coupon_redeemed(
    sub: Subscription,
    *,
    when: dt.datetime,
    duration: str = "forever",
    months: int | None = None,
    kind: str = "percentage",
    value: int = 2500,
) -> CouponRedemption:
    """Record a coupon's use by ``sub`` at ``when``, as the coupon services do."""
    coupon = CouponFactory(
        for_subscriptions=True,
        kind=kind,
        value=value,
        duration=duration,
        duration_in_months=months,
    )
    redemption = CouponRedemptionFactory(
        coupon=coupon,
        order_ref=subscription_ref(sub.pk),
        target=CouponRedemption.Target.SUBSCRIPTION,
        customer_key=f"user:{sub.user_id}",
        user=sub.user,
    )
    CouponRedemption.objects.filter(pk=redemption.pk).update(created_at=when)
    return redemption
