"""The trial-ending reminder, sent 3 days before the trial ends.

localstripe never sends ``customer.subscription.trial_will_end``, so a beat
task finds the trials ending soon; on real Stripe the webhook arrives too.
Both end in ``trial_ending_remind``, whose email key names the trial's end,
so the reminder goes out once per trial (and again only if the trial is
extended to a new end).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from apps.subscriptions.models import Subscription, SubscriptionStatus
from apps.subscriptions.services import effects

TRIAL_REMINDER_BEFORE = timedelta(days=3)


def trial_ending_remind(*, subscription: Subscription) -> bool:
    """Email the reminder for a running trial; False when there is none."""
    if subscription.status != SubscriptionStatus.TRIALING or not subscription.trial_end:
        return False
    effects._email(
        subscription,
        "trial_ending",
        f"{subscription.pk}:{subscription.trial_end.isoformat()}",
    )
    return True


def trial_ending_reminders_send(*, now: datetime | None = None) -> int:
    """Remind every trial that ends within 3 days (beat); return how many."""
    now = now or timezone.now()
    trials = Subscription.objects.filter(
        status=SubscriptionStatus.TRIALING,
        trial_end__gt=now,
        trial_end__lte=now + TRIAL_REMINDER_BEFORE,
    ).select_related("price__plan", "user")
    return sum(trial_ending_remind(subscription=sub) for sub in trials)
