"""services.subscription_create against localstripe."""

import pytest

from apps.billing.gateway import subscriptions as gw
from apps.subscriptions import services
from apps.subscriptions.exceptions import (
    AlreadySubscribed,
    PlanPrivate,
    PriceInactive,
    PriceNotFound,
    SubscriptionCurrencyMismatch,
)
from apps.subscriptions.models import Customer, Subscription, SubscriptionEvent
from apps.subscriptions.services.sync import subscription_sync
from tests.accounts.factories import UserFactory
from tests.subscriptions.conftest import confirm
from tests.subscriptions.factories import PlanPriceFactory, SubscriptionFactory

pytestmark = [pytest.mark.localstripe, pytest.mark.django_db]


def test_subscription_create_returns_intent_secret_and_incomplete_row(pushed_price):
    user = UserFactory()
    price = pushed_price(amount=1200)

    start = services.subscription_create(user=user, price_id=price.pk)

    sub = start.subscription
    assert (sub.status, start.kind) == ("incomplete", "payment_intent")
    assert start.client_secret.startswith("pi_")
    assert sub.stripe_id.startswith("sub_")
    assert sub.current_period_end > sub.current_period_start
    customer = Customer.objects.get(user=user)
    assert gw.subscription_retrieve(subscription_id=sub.stripe_id).customer == (
        customer.stripe_id
    )
    price.refresh_from_db()
    assert price.used_at is not None  # immutable from now on (grandfathering)


def test_subscription_confirmed_then_synced_is_active_with_history(pushed_price):
    user = UserFactory()
    start = services.subscription_create(user=user, price_id=pushed_price().pk)
    confirm(start.client_secret)

    sub = subscription_sync(stripe_id=start.subscription.stripe_id, reason="return")
    subscription_sync(stripe_id=sub.stripe_id, reason="return")  # a replay

    assert sub.status == "active"
    assert sub.started_at is not None
    assert list(
        SubscriptionEvent.objects.filter(subscription=sub).values_list(
            "from_status", "to_status"
        )
    ) == [("", "incomplete"), ("incomplete", "active")]


def test_subscription_create_again_while_unconfirmed_returns_same(pushed_price):
    user = UserFactory()
    price = pushed_price()
    first = services.subscription_create(user=user, price_id=price.pk)

    again = services.subscription_create(user=user, price_id=price.pk)

    assert again.subscription.pk == first.subscription.pk
    assert again.client_secret == first.client_secret
    customer = Customer.objects.get(user=user)
    assert len(gw.invoice_list(customer_id=customer.stripe_id)) == 1


def test_subscription_create_other_price_while_unconfirmed_replaces_it(pushed_price):
    user = UserFactory()
    first = services.subscription_create(user=user, price_id=pushed_price().pk)

    second = services.subscription_create(
        user=user, price_id=pushed_price(amount=2000).pk
    )

    first.subscription.refresh_from_db()
    assert first.subscription.status == "canceled"
    assert second.subscription.status == "incomplete"
    assert second.subscription.pk != first.subscription.pk
    # One customer for both.
    assert Customer.objects.filter(user=user).count() == 1


def test_subscription_create_when_active_raises_already_subscribed(pushed_price):
    user = UserFactory()
    start = services.subscription_create(user=user, price_id=pushed_price().pk)
    confirm(start.client_secret)

    with pytest.raises(AlreadySubscribed) as exc:
        services.subscription_create(user=user, price_id=pushed_price().pk)

    assert exc.value.code == "already_subscribed"
    assert Subscription.objects.filter(user=user).count() == 1


def test_subscription_create_with_trial_returns_setup_intent(pushed_price):
    start = services.subscription_create(
        user=UserFactory(), price_id=pushed_price(trial_days=14).pk
    )

    assert start.kind == "setup_intent"
    assert start.subscription.status == "trialing"
    assert start.subscription.trial_end is not None


def test_subscription_create_unknown_price_raises(localstripe):
    with pytest.raises(PriceNotFound):
        services.subscription_create(user=UserFactory(), price_id=999999)


@pytest.mark.parametrize(
    "state",
    [{"active": False}, {"plan__status": "archived"}, {"stripe_price_id": ""}],
)
def test_subscription_create_inactive_price_raises(localstripe, state):
    price = PlanPriceFactory(**{"stripe_price_id": "plan_x", **state})

    with pytest.raises(PriceInactive):
        services.subscription_create(user=UserFactory(), price_id=price.pk)

    assert not Subscription.objects.exists()


def test_subscription_create_private_plan_raises(pushed_price):
    price = pushed_price(visibility="private")

    with pytest.raises(PlanPrivate):
        services.subscription_create(user=UserFactory(), price_id=price.pk)


def test_subscription_create_currency_mismatch_raises(pushed_price):
    user = UserFactory()
    SubscriptionFactory(user=user, status="canceled", price__currency="EUR")

    with pytest.raises(SubscriptionCurrencyMismatch) as exc:
        services.subscription_create(user=user, price_id=pushed_price().pk)

    assert exc.value.details == {"account_currency": "EUR", "price_currency": "USD"}


def test_subscription_create_unknown_coupon_raises_and_writes_nothing(pushed_price):
    from apps.coupons.exceptions import CouponNotFound

    with pytest.raises(CouponNotFound):
        services.subscription_create(
            user=UserFactory(), price_id=pushed_price().pk, coupon="WELCOME"
        )
    assert not Subscription.objects.exists()
