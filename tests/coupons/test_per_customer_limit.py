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


# --- the preview counts the same way, so a used-up coupon is refused before
# --- payment instead of refunded after it


def _guest_checkout_with(coupon, email):
    from apps.carts import services as cart_services
    from apps.checkout.models import Checkout
    from tests.inventory.factories import VariantFactory

    variant = VariantFactory(stock=5, price_minor=2000)
    cart, _ = cart_services.cart_create(user=None, currency="USD")
    cart_services.cart_line_add(cart=cart, sku=variant.sku, quantity=1)
    cart_services.cart_coupon_apply(cart=cart, code=coupon.code)
    return Checkout.objects.create(cart=cart, email=email)


def test_checkout_totals_guest_email_used_coupon_as_signed_in_user_refused():
    from apps.checkout.services import checkout_totals

    user = UserFactory(email="ada@example.com")
    coupon = CouponFactory(per_customer_limit=1, value=1000)
    _redeem(
        coupon, "D-1", key=f"user:{user.pk}", email="ada@example.com", user_id=user.pk
    )
    checkout = _guest_checkout_with(coupon, "ADA@example.com")

    totals = checkout_totals(checkout=checkout)

    assert totals.discount_minor == 0
    assert totals.total_minor == totals.subtotal_minor + totals.shipping_minor
    [refused] = totals.view.coupons
    assert (refused.is_applied, refused.error) == (
        False,
        "coupon_customer_limit_reached",
    )


def test_checkout_totals_other_guest_email_still_gets_the_discount():
    from apps.checkout.services import checkout_totals

    coupon = CouponFactory(per_customer_limit=1, value=1000)
    _redeem(coupon, "E-1", key="email:ada@example.com", email="ada@example.com")
    checkout = _guest_checkout_with(coupon, "bob@example.com")

    totals = checkout_totals(checkout=checkout)

    assert totals.discount_minor == 200  # 10 % of 20.00


def test_cart_signed_in_user_who_used_coupon_as_guest_is_refused_on_apply():
    from apps.carts import services as cart_services
    from apps.carts.models import CartCoupon
    from tests.inventory.factories import VariantFactory

    user = UserFactory(email="ada@example.com")
    coupon = CouponFactory(per_customer_limit=1, value=1000)
    _redeem(coupon, "F-1", key="email:ada@example.com", email="ada@example.com")
    variant = VariantFactory(stock=5, price_minor=2000)
    cart, _ = cart_services.cart_create(user=user, currency="USD")
    cart_services.cart_line_add(cart=cart, sku=variant.sku, quantity=1)

    with pytest.raises(CouponNotApplicable) as exc:
        cart_services.cart_coupon_apply(cart=cart, code=coupon.code, user=user)

    assert exc.value.code == "coupon_customer_limit_reached"
    assert not CartCoupon.objects.filter(cart=cart).exists()
