"""The subscriber's own actions: cancel (at period end or now) and resume."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils import timezone

from apps.billing.gateway import subscriptions as gw
from apps.subscriptions import selectors
from apps.subscriptions.exceptions import (
    SubscriptionNotCancellable,
    SubscriptionNotResumable,
)
from apps.subscriptions.models import Subscription, SubscriptionStatus
from apps.subscriptions.services.sync import subscription_apply

if TYPE_CHECKING:
    from apps.accounts.models import User

CANCELLABLE = (
    SubscriptionStatus.TRIALING,
    SubscriptionStatus.ACTIVE,
    SubscriptionStatus.PAST_DUE,
    SubscriptionStatus.UNPAID,
    SubscriptionStatus.PAUSED,
)


def _stripe_key(action: str, sub: Subscription) -> str:
    # One key per (action, state of our row): a double click replays at
    # Stripe, the same action after a later change is a new request.
    return f"subscription-{action}-{sub.pk}-{sub.updated_at.timestamp():.6f}"


def subscription_cancel(
    *, user: User, subscription_id: int, at_period_end: bool = True
) -> Subscription:
    """Cancel the user's subscription at the period end (default) or now.

    Cancelling now refunds nothing. Raise SubscriptionNotFound for another
    user's id, SubscriptionNotCancellable when it has ended or was never paid
    (code subscription_not_cancellable) or is already ending at the period end
    (code already_cancelling).
    """
    sub = selectors.subscription_get_for_user(
        user=user, subscription_id=subscription_id
    )
    if sub.status not in CANCELLABLE:
        raise SubscriptionNotCancellable(
            f"A {sub.status} subscription cannot be cancelled."
        )
    if at_period_end and sub.cancel_at_period_end:
        raise SubscriptionNotCancellable(
            "This subscription already ends at the period end.",
            code="already_cancelling",
        )
    snap = gw.subscription_cancel(
        subscription_id=sub.stripe_id,
        at_period_end=at_period_end,
        idempotency_key=_stripe_key(
            "cancel-end" if at_period_end else "cancel-now", sub
        ),
    )
    return subscription_apply(
        subscription_id=sub.pk,
        snap=snap,
        reason="cancel_at_period_end" if at_period_end else "cancel_now",
        actor=f"user:{user.pk}",
    )


def subscription_resume(*, user: User, subscription_id: int) -> Subscription:
    """Undo a cancellation at the period end, before that end.

    Raise SubscriptionNotResumable when no cancellation is scheduled (code
    not_cancelling) or the period has ended (code resume_period_ended).
    """
    sub = selectors.subscription_get_for_user(
        user=user, subscription_id=subscription_id
    )
    ended = sub.status not in CANCELLABLE or (
        sub.current_period_end is not None and sub.current_period_end <= timezone.now()
    )
    if ended:
        raise SubscriptionNotResumable(
            "The subscription has ended; subscribe again instead.",
            code="resume_period_ended",
        )
    if not sub.cancel_at_period_end:
        raise SubscriptionNotResumable("This subscription is not being cancelled.")
    snap = gw.subscription_resume(
        subscription_id=sub.stripe_id, idempotency_key=_stripe_key("resume", sub)
    )
    return subscription_apply(
        subscription_id=sub.pk, snap=snap, reason="resume", actor=f"user:{user.pk}"
    )
