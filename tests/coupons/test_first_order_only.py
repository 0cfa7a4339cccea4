"""First-order-only coupons counted by checkout's real order counter.

Coupons never read orders: checkout registers the counter at startup
(CheckoutConfig.ready). These tests use that registration, not a stand-in,
so they also catch a test elsewhere that leaves the counter unregistered.
"""

import pytest

from apps.carts import services as cart_services
from apps.checkout.models import Order
from apps.coupons import selectors
from apps.coupons.exceptions import CouponNotApplicable
from tests.accounts.factories import UserFactory
from tests.carts.factories import CartFactory, CartLineFactory
from tests.coupons.factories import CouponFactory

pytestmark = pytest.mark.django_db


def _order(*, status, user=None, email="shopper@example.com", number="FO-1"):
    return Order.objects.create(
        number=number, user=user, email=email, currency="USD", status=status
    )


def test_checkout_order_counter_is_registered_at_startup():
    from apps.checkout.services.coupon_redemption import customer_order_count

    assert selectors.customer_order_count_provider_get() is customer_order_count


def test_customer_order_count_counts_paid_orders_only_by_user_and_email():
    user = UserFactory()
    _order(status=Order.Status.PAID, user=user, number="FO-1")
    _order(status=Order.Status.PENDING_PAYMENT, user=user, number="FO-2")
    _order(status=Order.Status.FULFILLED, email="Guest@Example.com", number="FO-3")

    assert selectors.customer_order_count(customer_key=f"user:{user.pk}") == 1
    assert selectors.customer_order_count(customer_key="email:guest@example.com") == 1
    assert selectors.customer_order_count(customer_key="email:new@example.com") == 0


def test_cart_coupon_apply_first_order_only_user_with_paid_order_refused():
    user = UserFactory()
    _order(status=Order.Status.PAID, user=user)
    cart = CartFactory(user=user)
    CartLineFactory(cart=cart)
    coupon = CouponFactory(is_first_order_only=True)

    with pytest.raises(CouponNotApplicable) as exc:
        cart_services.cart_coupon_apply(cart=cart, code=coupon.code, user=user)

    assert exc.value.code == "coupon_first_order_only"
    assert not cart.coupons.exists()


def test_cart_coupon_apply_first_order_only_unpaid_order_does_not_count():
    user = UserFactory()
    _order(status=Order.Status.PENDING_PAYMENT, user=user)
    cart = CartFactory(user=user)
    CartLineFactory(cart=cart)
    coupon = CouponFactory(is_first_order_only=True)

    cart_services.cart_coupon_apply(cart=cart, code=coupon.code, user=user)

    assert list(cart.coupons.values_list("coupon__code", flat=True)) == [coupon.code]


def test_cart_coupon_api_first_order_only_returns_400_for_returning_customer(
    api_client,
):
    user = UserFactory()
    _order(status=Order.Status.PAID, user=user)
    cart = CartFactory(user=user)
    CartLineFactory(cart=cart)
    coupon = CouponFactory(is_first_order_only=True)
    api_client.force_authenticate(user)

    response = api_client.post(
        f"/api/v1/carts/{cart.pk}/coupons/", {"code": coupon.code}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "coupon_first_order_only"
