"""Per-customer limits count a shopper once, signed in or as a guest."""

import pytest

from apps.coupons.exceptions import CouponNotApplicable
from apps.coupons.models import CouponRedemption
from apps.coupons.services import coupon_redeem
from tests.accounts.factories import UserFactory
from tests.coupons.factories import CouponFactory

pytestmark = pytest.mark.django_db


def _redeem(coupon, ref, *, key, email, user_id=None):
    return coupon_redeem(
        code=coupon.code,
        order_ref=ref,
        customer_key=key,
        email=email,
        discount_minor=100,
        currency="USD",
        user_id=user_id,
    )


def test_coupon_redeem_signed_in_then_guest_same_email_refused():
    user = UserFactory()
    coupon = CouponFactory(per_customer_limit=1)
    _redeem(
        coupon, "A-1", key=f"user:{user.pk}", email="Ada@Example.com", user_id=user.pk
    )

    with pytest.raises(CouponNotApplicable) as exc:
        _redeem(coupon, "A-2", key="email:ada@example.com", email="ada@example.com")

    assert exc.value.code == "coupon_customer_limit_reached"
    assert CouponRedemption.objects.count() == 1
    coupon.refresh_from_db()
    assert coupon.times_redeemed == 1


def test_coupon_redeem_guest_then_signed_in_same_email_refused():
    user = UserFactory()
    coupon = CouponFactory(per_customer_limit=1)
    _redeem(coupon, "B-1", key="email:ada@example.com", email="ada@example.com")

    with pytest.raises(CouponNotApplicable) as exc:
        _redeem(
            coupon,
            "B-2",
            key=f"user:{user.pk}",
            email="ADA@example.com",
            user_id=user.pk,
        )

    assert exc.value.code == "coupon_customer_limit_reached"


def test_coupon_redeem_other_email_other_customer_allowed():
    coupon = CouponFactory(per_customer_limit=1)
    _redeem(coupon, "C-1", key="email:ada@example.com", email="ada@example.com")

    _redeem(coupon, "C-2", key="email:bob@example.com", email="bob@example.com")

    assert CouponRedemption.objects.filter(coupon=coupon).count() == 2
