"""Coupons on subscriptions against localstripe (no mocks): subscribe, API, admin."""

import uuid

import pytest

from apps.billing.gateway import subscriptions as gw
from apps.coupons.exceptions import CouponNotApplicable
from apps.coupons.models import Coupon, CouponRedemption
from apps.subscriptions import services
from apps.subscriptions.models import Customer, Subscription
from tests.accounts.factories import UserFactory
from tests.coupons.factories import CouponFactory
from tests.subscriptions.conftest import confirm, intent_id

pytestmark = [pytest.mark.localstripe, pytest.mark.django_db]


def _idem() -> dict:
    return {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())}


@pytest.fixture
def user_client(api_client):
    user = UserFactory()
    api_client.force_authenticate(user)
    api_client.user = user
    return api_client


def test_subscribe_percent_once_coupon_discounts_first_invoice_only(pushed_price):
    price = pushed_price(amount=2000)
    coupon = CouponFactory(for_subscriptions=True, value=2500, usage_limit=5)

    start = services.subscription_create(
        user=UserFactory(), price_id=price.pk, coupon=coupon.code.lower()
    )

    assert start.amount_due_minor == 1500
    intent = confirm(start.client_secret)
    assert intent.amount_minor == 1500  # what the card is charged
    snap = gw.subscription_retrieve(subscription_id=start.subscription.stripe_id)
    assert snap.discount_coupon_id == coupon.stripe_coupon_id
    invoice = services.invoice_sync(stripe_id=snap.latest_invoice_id)
    assert (invoice.subtotal_minor, invoice.discount_minor, invoice.total_minor) == (
        2000,
        500,
        1500,
    )
    redemption = CouponRedemption.objects.get(coupon=coupon)
    assert redemption.target == CouponRedemption.Target.SUBSCRIPTION
    assert redemption.order_ref == f"subscription-{start.subscription.pk}"
    assert redemption.discount_minor == 500
    coupon.refresh_from_db()
    assert coupon.times_redeemed == 1
    renewal = gw.renewal_invoice_create_and_pay(
        customer_id=snap.customer,
        subscription_id=snap.id,
        idempotency_key=str(uuid.uuid4()),
    )
    assert (renewal.discount_minor, renewal.amount_paid_minor) == (0, 2000)


def test_subscribe_repeating_fixed_coupon_discounts_renewals(pushed_price):
    price = pushed_price(amount=1000)
    coupon = CouponFactory(
        for_both=True,
        fixed=True,
        value=300,
        duration=Coupon.Duration.REPEATING,
        duration_in_months=3,
    )

    start = services.subscription_create(
        user=UserFactory(), price_id=price.pk, coupon=coupon.code
    )
    confirm(start.client_secret)
    renewal = gw.renewal_invoice_create_and_pay(
        customer_id=Customer.objects.get().stripe_id,
        subscription_id=start.subscription.stripe_id,
        idempotency_key=str(uuid.uuid4()),
    )

    assert start.amount_due_minor == 700
    assert (renewal.discount_minor, renewal.amount_paid_minor) == (300, 700)


def test_subscribe_orders_only_coupon_refused_and_writes_nothing(pushed_price):
    price = pushed_price()
    coupon = CouponFactory()  # orders only

    with pytest.raises(CouponNotApplicable) as exc:
        services.subscription_create(
            user=UserFactory(), price_id=price.pk, coupon=coupon.code
        )

    assert exc.value.code == "coupon_not_valid_for_subscriptions"
    assert not Subscription.objects.exists()
    assert not Customer.objects.exists()
    assert not CouponRedemption.objects.exists()


def test_subscribe_used_up_coupon_refused_with_limit_code(pushed_price):
    price = pushed_price()
    coupon = CouponFactory(for_subscriptions=True, usage_limit=1)
    services.subscription_create(
        user=UserFactory(), price_id=price.pk, coupon=coupon.code
    )

    with pytest.raises(CouponNotApplicable) as exc:
        services.subscription_create(
            user=UserFactory(), price_id=price.pk, coupon=coupon.code
        )

    assert exc.value.code == "coupon_usage_limit_reached"
    assert Subscription.objects.count() == 1


def test_subscribe_replaced_unpaid_subscription_gives_coupon_use_back(pushed_price):
    user = UserFactory()
    coupon = CouponFactory(for_subscriptions=True, usage_limit=1)
    services.subscription_create(
        user=user, price_id=pushed_price().pk, coupon=coupon.code
    )

    services.subscription_create(user=user, price_id=pushed_price(amount=900).pk)

    coupon.refresh_from_db()
    assert coupon.times_redeemed == 0
    assert not CouponRedemption.objects.exists()


def test_api_subscribe_with_coupon_shows_discounted_amount_due(
    user_client, pushed_price
):
    price = pushed_price(amount=1900)
    coupon = CouponFactory(for_subscriptions=True, value=1000)

    r = user_client.post(
        "/api/v1/subscriptions/",
        {"price": price.pk, "coupon": coupon.code},
        format="json",
        **_idem(),
    )

    assert r.status_code == 201, r.content
    body = r.json()
    assert body["amount_due"] == {"amount": 1710, "currency": "USD"}
    assert body["subscription"]["amount"] == {"amount": 1900, "currency": "USD"}
    assert intent_id(body["client_secret"]).startswith("pi_")


def test_api_subscribe_orders_only_coupon_answers_400_code(user_client, pushed_price):
    price = pushed_price()
    coupon = CouponFactory()

    r = user_client.post(
        "/api/v1/subscriptions/",
        {"price": price.pk, "coupon": coupon.code},
        format="json",
        **_idem(),
    )

    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "coupon_not_valid_for_subscriptions"
    assert error["details"]["code"] == coupon.code
    assert not Subscription.objects.filter(user=user_client.user).exists()


def test_api_subscribe_unknown_coupon_answers_400_not_found(user_client, pushed_price):
    r = user_client.post(
        "/api/v1/subscriptions/",
        {"price": pushed_price().pk, "coupon": "NOPE"},
        format="json",
        **_idem(),
    )

    assert (r.status_code, r.json()["error"]["code"]) == (400, "coupon_not_found")


def test_schema_documents_subscribe_coupon_codes(api_client):
    schema = api_client.get("/api/schema/?format=json").content.decode()

    assert "coupon_not_valid_for_subscriptions" in schema
    assert "amount_due" in schema


def test_unpaid_subscription_expiring_gives_coupon_use_back(pushed_price):
    import dataclasses

    coupon = CouponFactory(for_subscriptions=True, usage_limit=1)
    start = services.subscription_create(
        user=UserFactory(), price_id=pushed_price().pk, coupon=coupon.code
    )
    snap = gw.subscription_retrieve(subscription_id=start.subscription.stripe_id)
    # Stripe expires an unpaid first invoice after 23 hours; localstripe never
    # does, so the sync is fed Stripe's answer for that moment.
    expired = dataclasses.replace(snap, status="incomplete_expired")

    services.subscription_apply(
        subscription_id=start.subscription.pk,
        snap=expired,
        reason="sync",
        actor="stripe",
    )
    services.subscription_apply(
        subscription_id=start.subscription.pk,
        snap=expired,
        reason="sync",
        actor="stripe",
    )  # a replay gives nothing back twice

    coupon.refresh_from_db()
    assert coupon.times_redeemed == 0
    assert not CouponRedemption.objects.exists()


def test_subscribe_again_unconfirmed_with_single_use_coupon_returns_same(
    pushed_price,
):
    user = UserFactory()
    price = pushed_price(amount=1000)
    coupon = CouponFactory(for_subscriptions=True, usage_limit=1, per_customer_limit=1)
    first = services.subscription_create(
        user=user, price_id=price.pk, coupon=coupon.code
    )

    again = services.subscription_create(
        user=user, price_id=price.pk, coupon=coupon.code
    )

    assert again.subscription.pk == first.subscription.pk
    assert again.client_secret == first.client_secret
    assert again.amount_due_minor == first.amount_due_minor == 900
    coupon.refresh_from_db()
    assert coupon.times_redeemed == 1


def test_subscribe_free_first_period_coupon_is_active_without_payment(pushed_price):
    coupon = CouponFactory(for_subscriptions=True, value=10_000)

    start = services.subscription_create(
        user=UserFactory(), price_id=pushed_price(amount=1200).pk, coupon=coupon.code
    )

    assert (start.kind, start.client_secret) == ("", "")
    assert start.subscription.status == "active"
    assert start.amount_due_minor == 0
