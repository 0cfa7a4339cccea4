"""The trial-ending reminder: by beat 3 days ahead, or Stripe's webhook; once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.billing import signals as billing_signals
from apps.core.models import Notification
from apps.subscriptions import services
from apps.subscriptions.services.reminders import trial_ending_reminders_send
from apps.subscriptions.tasks import send_trial_reminders
from tests.accounts.factories import UserFactory
from tests.subscriptions.factories import SubscriptionFactory

pytestmark = pytest.mark.django_db


def reminders() -> int:
    return Notification.objects.filter(kind="subscriptions.trial_ending").count()


def test_beat_reminds_trials_ending_within_3_days_once():
    now = timezone.now()
    soon = SubscriptionFactory(status="trialing", trial_end=now + timedelta(days=2))
    SubscriptionFactory(status="trialing", trial_end=now + timedelta(days=5))
    SubscriptionFactory(status="active", trial_end=now + timedelta(days=1))

    first = send_trial_reminders.delay().get()
    second = trial_ending_reminders_send()

    assert (first, second) == (1, 1)  # the second finds it, mails nothing
    assert reminders() == 1
    mail = Notification.objects.get(kind="subscriptions.trial_ending")
    assert mail.recipient == soon.user.email
    assert f"{soon.trial_end:%-d %B %Y}" in mail.subject


def test_extended_trial_gets_a_new_reminder():
    sub = SubscriptionFactory(
        status="trialing", trial_end=timezone.now() + timedelta(days=1)
    )
    trial_ending_reminders_send()
    sub.trial_end += timedelta(days=1)
    sub.save(update_fields=["trial_end"])

    trial_ending_reminders_send()

    assert reminders() == 2


@pytest.mark.localstripe
def test_trial_will_end_webhook_sends_the_same_reminder_once(pushed_price):
    user = UserFactory()
    start = services.subscription_create(
        user=user, price_id=pushed_price(trial_days=14).pk
    )

    for n in range(2):
        billing_signals.subscription_event.send(
            sender="billing",
            stripe_id=start.subscription.stripe_id,
            event_type="customer.subscription.trial_will_end",
            event_id=f"evt_{n}",
        )

    assert reminders() == 1
