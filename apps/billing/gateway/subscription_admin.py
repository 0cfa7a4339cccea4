"""Subscription changes staff make from admin (trial extensions)."""

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
