"""Subscription changes staff make from admin (trial extensions, coupons)."""

from __future__ import annotations

import datetime as dt

from apps.billing.gateway.subscriptions import SubscriptionSnapshot, _update


def subscription_trial_end_set(
    *, subscription_id: str, trial_end: dt.datetime, idempotency_key: str
) -> SubscriptionSnapshot:
    """Move a trialing subscription's trial end (and so its first charge)."""
    return _update(
        subscription_id, {"trial_end": int(trial_end.timestamp())}, idempotency_key
    )


def subscription_discount_set(
    *, subscription_id: str, coupon_id: str, idempotency_key: str
) -> SubscriptionSnapshot:
    """Discount the subscription's next invoices with a Stripe coupon.

    It replaces any discount the subscription had.
    """
    return _update(
        subscription_id, {"discounts": [{"coupon": coupon_id}]}, idempotency_key
    )
