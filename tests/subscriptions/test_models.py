import itertools

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.exceptions import InvalidTransition
from apps.subscriptions.models import (
    SCHEDULED_CHANGE_STATES,
    SUBSCRIPTION_STATES,
    ScheduledChange,
    Subscription,
    SubscriptionStatus,
)
from tests.subscriptions.factories import SubscriptionFactory

pytestmark = pytest.mark.django_db

ALLOWED = {
    ("incomplete", "active"),
    ("incomplete", "trialing"),
    ("incomplete", "past_due"),
    ("incomplete", "incomplete_expired"),
    ("incomplete", "canceled"),
    ("trialing", "active"),
    ("trialing", "past_due"),
    ("trialing", "unpaid"),
    ("trialing", "paused"),
    ("trialing", "canceled"),
    ("active", "past_due"),
    ("active", "unpaid"),
    ("active", "paused"),
    ("active", "trialing"),
    ("active", "canceled"),
    ("past_due", "active"),
    ("past_due", "unpaid"),
    ("past_due", "canceled"),
    ("unpaid", "active"),
    ("unpaid", "past_due"),
    ("unpaid", "canceled"),
    ("paused", "active"),
    ("paused", "trialing"),
    ("paused", "canceled"),
}


@pytest.mark.parametrize(
    ("source", "target"),
    list(itertools.permutations(SubscriptionStatus.values, 2)),
)
def test_subscription_states_every_pair(source, target):
    sub = SubscriptionFactory(status=source)

    if (source, target) in ALLOWED:
        assert SUBSCRIPTION_STATES.move(sub, target) is True
        sub.refresh_from_db()
        assert sub.status == target
        assert (sub.ended_at is not None) == (target == "canceled")
    else:
        with pytest.raises(InvalidTransition):
            SUBSCRIPTION_STATES.move(sub, target)
        sub.refresh_from_db()
        assert sub.status == source


def test_subscription_move_to_same_status_is_a_noop():
    sub = SubscriptionFactory(status="active")

    assert SUBSCRIPTION_STATES.move(sub, "active") is False


def test_subscription_second_live_for_user_refused():
    first = SubscriptionFactory(status="incomplete")

    with pytest.raises(IntegrityError), transaction.atomic():
        SubscriptionFactory(user=first.user, status="active")

    assert Subscription.objects.filter(user=first.user).count() == 1


def test_subscription_ended_ones_do_not_block_a_new_one():
    first = SubscriptionFactory(status="canceled")
    SubscriptionFactory(user=first.user, status="incomplete_expired")

    SubscriptionFactory(user=first.user, status="active")

    assert Subscription.objects.filter(user=first.user).count() == 3


def test_subscription_stripe_id_unique_but_many_may_wait_for_one():
    SubscriptionFactory(stripe_id="", status="canceled")
    SubscriptionFactory(stripe_id="", status="canceled")
    SubscriptionFactory(stripe_id="sub_x")

    with pytest.raises(IntegrityError), transaction.atomic():
        SubscriptionFactory(stripe_id="sub_x")


SCHEDULED_ALLOWED = {
    ("pending", "applied"),
    ("pending", "cancelled"),
    ("pending", "failed"),
}


@pytest.mark.parametrize(
    ("source", "target"),
    list(itertools.product(ScheduledChange.Status.values, repeat=2)),
)
def test_scheduled_change_states_every_pair(source, target):
    sub = SubscriptionFactory(status="active")
    change = ScheduledChange.objects.create(
        subscription=sub,
        to_price=sub.price,
        due_at=timezone.now(),
        status=source,
    )

    if source == target:
        assert SCHEDULED_CHANGE_STATES.move(change, target) is False
    elif (source, target) in SCHEDULED_ALLOWED:
        assert SCHEDULED_CHANGE_STATES.move(change, target) is True
        change.refresh_from_db()
        assert change.status == target
        assert (change.applied_at is not None) == (target == "applied")
    else:
        with pytest.raises(InvalidTransition) as refused:
            SCHEDULED_CHANGE_STATES.move(change, target)
        assert refused.value.status_code == 409
        change.refresh_from_db()
        assert change.status == source
