"""Counting coupon uses by subscriptions (apps/coupons/services/subscription.py)."""

import pytest

from apps.coupons.exceptions import CouponNotApplicable
from apps.coupons.models import Coupon, CouponRedemption
from apps.coupons.services import subscription as sub_coupons
from tests.accounts.factories import UserFactory
from tests.coupons.factories import CouponFactory

pytestmark = pytest.mark.django_db


def _redeem(code, subscription_id=1, **kw):
    return sub_coupons.subscription_coupon_redeem(
        code=code,
        subscription_id=subscription_id,
        currency=kw.pop("currency", "USD"),
        amount_minor=kw.pop("amount_minor", 2000),
        user_id=kw.pop("user_id", None) or UserFactory().pk,
        email=kw.pop("email", "a@example.com"),
        **kw,
    )


def test_subscription_coupon_redeem_counts_once_per_subscription():
    coupon = CouponFactory(for_subscriptions=True, value=2500)
    user = UserFactory()
    first = _redeem(coupon.code, user_id=user.pk)
    again = _redeem(coupon.code.lower(), user_id=user.pk)
    assert again.pk == first.pk
    assert first.target == CouponRedemption.Target.SUBSCRIPTION
    assert first.order_ref == "subscription-1"
    assert first.discount_minor == 500
    coupon.refresh_from_db()
    assert coupon.times_redeemed == 1


def test_subscription_coupon_redeem_orders_only_raises():
    coupon = CouponFactory()
    with pytest.raises(CouponNotApplicable) as exc:
        _redeem(coupon.code)
    assert exc.value.code == "coupon_not_valid_for_subscriptions"
    assert not CouponRedemption.objects.exists()


def test_subscription_coupon_redeem_limit_reached_raises():
    coupon = CouponFactory(for_both=True, usage_limit=1)
    _redeem(coupon.code, subscription_id=1)
    with pytest.raises(CouponNotApplicable) as exc:
        _redeem(coupon.code, subscription_id=2, email="b@example.com")
    assert exc.value.code == "coupon_usage_limit_reached"


def test_subscription_coupon_redeem_fixed_other_currency_raises():
    coupon = CouponFactory(for_subscriptions=True, fixed=True, currency="EUR")
    with pytest.raises(CouponNotApplicable) as exc:
        _redeem(coupon.code, currency="USD")
    assert exc.value.code == "coupon_not_applicable"


def test_subscription_coupon_redeem_below_minimum_raises():
    coupon = CouponFactory(for_subscriptions=True, minimum_subtotal_minor=5000)
    with pytest.raises(CouponNotApplicable) as exc:
        _redeem(coupon.code, amount_minor=2000)
    assert exc.value.code == "coupon_minimum_not_met"


def test_subscription_coupon_release_gives_use_back():
    coupon = CouponFactory(for_subscriptions=True, usage_limit=1)
    _redeem(coupon.code, subscription_id=9)
    assert sub_coupons.subscription_coupon_release(subscription_id=9) == 1
    coupon.refresh_from_db()
    assert coupon.times_redeemed == 0


def test_coupon_stripe_terms_percent_and_fixed():
    percent = CouponFactory(
        for_subscriptions=True,
        value=1250,
        duration=Coupon.Duration.REPEATING,
        duration_in_months=3,
    )
    terms = sub_coupons.coupon_stripe_terms(coupon=percent)
    assert str(terms.percent_off) == "12.5"
    assert terms.amount_off_minor is None
    assert (terms.duration, terms.duration_in_months) == ("repeating", 3)
    fixed = CouponFactory(for_subscriptions=True, fixed=True)
    terms = sub_coupons.coupon_stripe_terms(coupon=fixed)
    assert (terms.percent_off, terms.amount_off_minor) == (None, 500)
