"""Coupon fields for subscriptions: applies_to, duration, and their rules."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from apps.coupons import services
from apps.coupons.exceptions import CouponNotApplicable
from apps.coupons.models import Coupon
from tests.coupons.factories import CouponFactory

pytestmark = pytest.mark.django_db


def test_coupon_clean_repeating_without_months_raises():
    coupon = CouponFactory.build(duration=Coupon.Duration.REPEATING)
    with pytest.raises(ValidationError) as exc:
        coupon.clean()
    assert "duration_in_months" in exc.value.message_dict


def test_coupon_clean_months_without_repeating_raises():
    coupon = CouponFactory.build(duration=Coupon.Duration.ONCE, duration_in_months=3)
    with pytest.raises(ValidationError) as exc:
        coupon.clean()
    assert "duration_in_months" in exc.value.message_dict


def test_coupon_clean_free_shipping_for_subscriptions_raises():
    coupon = CouponFactory.build(free_shipping=True, for_subscriptions=True)
    with pytest.raises(ValidationError) as exc:
        coupon.clean()
    assert "applies_to" in exc.value.message_dict


def test_coupon_clean_repeating_with_months_passes():
    coupon = CouponFactory.build(
        for_both=True, duration=Coupon.Duration.REPEATING, duration_in_months=3
    )
    coupon.clean()


def test_coupon_repeating_without_months_refused_by_database():
    with pytest.raises(IntegrityError), transaction.atomic():
        CouponFactory(duration=Coupon.Duration.REPEATING)


def test_coupon_bxgy_for_subscriptions_refused_by_database():
    with pytest.raises(IntegrityError), transaction.atomic():
        CouponFactory(bxgy=True, for_subscriptions=True)


def test_coupon_stripe_coupon_id_changes_with_terms():
    coupon = CouponFactory(for_subscriptions=True)
    before = coupon.stripe_coupon_id
    assert before.startswith(f"shop-{coupon.pk}-")
    assert coupon.stripe_coupon_id == before
    coupon.value = 2000
    assert coupon.stripe_coupon_id != before


@pytest.mark.parametrize(
    ("applies_to", "refused"),
    [("orders", False), ("subscriptions", True), ("both", False)],
)
def test_coupon_status_refusal_for_orders(applies_to, refused):
    coupon = CouponFactory(applies_to=applies_to)
    refusal = services.coupon_status_refusal(coupon=coupon)
    assert (refusal is not None) is refused
    if refused:
        assert refusal.error == "coupon_not_valid_for_orders"


@pytest.mark.parametrize(
    ("applies_to", "refused"),
    [("orders", True), ("subscriptions", False), ("both", False)],
)
def test_coupon_status_refusal_for_subscriptions(applies_to, refused):
    coupon = CouponFactory(applies_to=applies_to)
    refusal = services.coupon_status_refusal(
        coupon=coupon, target=services.SUBSCRIPTIONS
    )
    assert (refusal is not None) is refused
    if refused:
        assert refusal.error == "coupon_not_valid_for_subscriptions"


def test_coupon_redeem_subscriptions_only_coupon_on_order_raises():
    coupon = CouponFactory(for_subscriptions=True)
    with pytest.raises(CouponNotApplicable) as exc:
        services.coupon_redeem(
            code=coupon.code,
            order_ref="order-1",
            customer_key="email:a@example.com",
            discount_minor=100,
            currency="USD",
        )
    assert exc.value.code == "coupon_not_valid_for_orders"
    coupon.refresh_from_db()
    assert coupon.times_redeemed == 0
