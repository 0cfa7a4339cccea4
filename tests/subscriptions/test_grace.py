"""What a subscription grants, by status and grace, and the grace setter."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.subscriptions.models import Subscription, SubscriptionStatus
from apps.subscriptions.services import subscription_grace_set
from apps.subscriptions.signals import access_changed
from tests.subscriptions.factories import SubscriptionFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()
S = SubscriptionStatus


@pytest.mark.parametrize(
    ("status", "grace_until", "grants"),
    [
        (S.TRIALING, None, True),
        (S.ACTIVE, None, True),
        (S.PAST_DUE, None, True),  # grace not decided yet
        (S.PAST_DUE, NOW + timedelta(seconds=1), True),
        (S.PAST_DUE, NOW, False),
        (S.PAST_DUE, NOW - timedelta(days=1), False),
        (S.UNPAID, None, False),
        (S.CANCELED, None, False),
        (S.INCOMPLETE, None, False),
        (S.INCOMPLETE_EXPIRED, None, False),
        (S.PAUSED, None, False),
    ],
)
def test_grants_access_by_status_and_grace(status, grace_until, grants):
    sub = Subscription(status=status, grace_until=grace_until)
    assert sub.grants_access(NOW) is grants


def test_grace_set_stores_once_and_signals_once_after_commit(
    django_capture_on_commit_callbacks,
):
    sub = SubscriptionFactory(status=S.PAST_DUE)
    heard = []

    def receiver(**kwargs):
        heard.append((kwargs["subscription_id"], kwargs["reason"]))

    access_changed.connect(receiver)
    try:
        until = NOW + timedelta(days=7)
        with django_capture_on_commit_callbacks(execute=True):
            subscription_grace_set(subscription_id=sub.pk, until=until)
            subscription_grace_set(subscription_id=sub.pk, until=until)
    finally:
        access_changed.disconnect(receiver)
    sub.refresh_from_db()
    assert sub.grace_until == until
    assert heard == [(sub.pk, "grace")]
