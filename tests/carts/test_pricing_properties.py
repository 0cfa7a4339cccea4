"""Pricing properties that need a cart: applying then removing a coupon
through the cart services restores what the shopper saw."""

import pytest
from django.db import transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from apps.carts import selectors, services
from apps.carts.models import Cart
from apps.coupons.exceptions import CouponNotApplicable
from apps.coupons.models import Coupon, StackingSettings
from tests.carts.factories import CartFactory
from tests.coupons.factories import CouponFactory
from tests.inventory.factories import VariantFactory

pytestmark = pytest.mark.django_db

coupon_specs = st.one_of(
    st.fixed_dictionaries(
        {
            "kind": st.just(Coupon.Kind.PERCENTAGE),
            "value": st.integers(1, 10_000),
            "minimum_subtotal_minor": st.sampled_from([0, 0, 5_000, 50_000]),
            "maximum_discount_minor": st.none() | st.integers(1, 5_000),
            "priority": st.integers(-1, 1),
            "is_combinable": st.booleans(),
        }
    ),
    st.fixed_dictionaries(
        {
            "kind": st.just(Coupon.Kind.FIXED_AMOUNT),
            "value": st.integers(1, 30_000),
            "minimum_subtotal_minor": st.sampled_from([0, 0, 5_000, 50_000]),
            "priority": st.integers(-1, 1),
            "is_combinable": st.booleans(),
        }
    ),
    st.fixed_dictionaries(
        {
            "kind": st.just(Coupon.Kind.BUY_X_GET_Y),
            "value": st.integers(1, 10_000),
            "buy_quantity": st.integers(1, 2),
            "get_quantity": st.integers(1, 2),
            "priority": st.integers(-1, 1),
            "is_combinable": st.booleans(),
        }
    ),
)
carts = st.lists(
    st.tuples(st.integers(1, 20_000), st.integers(1, 5)),  # unit price, quantity
    min_size=1,
    max_size=3,
)


def _seen(cart: Cart) -> tuple:
    """What the shopper sees of a cart: lines, coupons and every total."""
    view = selectors.cart_view(cart=Cart.objects.get(pk=cart.pk))
    return view.lines, view.coupons, view.breakdown


def _apply(cart: Cart, spec: dict) -> bool:
    coupon = CouponFactory(**spec)
    try:
        services.cart_coupon_apply(cart=cart, code=coupon.code.lower())
    except CouponNotApplicable:
        return False
    return True


# Each example builds a catalogue and a cart in the database (~50 queries),
# so this runs 30 examples rather than hypothesis' default 100: the pure
# engine's properties (tests/coupons/test_pricing.py) get the full count;
# this one is about the services leaving no trace, which small carts show.
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    lines=carts,
    existing=st.lists(coupon_specs, max_size=2),
    extra=coupon_specs,
    max_coupons=st.integers(1, 3),
    mix=st.booleans(),
)
def test_cart_coupon_apply_then_remove_restores_lines_coupons_and_totals(
    lines, existing, extra, max_coupons, mix
):
    with transaction.atomic():
        StackingSettings.objects.update_or_create(
            pk=1,
            defaults={
                "max_coupons_per_order": max_coupons,
                "percentage_combines_with_fixed": mix,
                "multiple_percentage_combine": mix,
            },
        )
        cart = CartFactory()
        for unit_price, quantity in lines:
            variant = VariantFactory(stock=100, price_minor=unit_price)
            cart = services.cart_line_add(cart=cart, sku=variant.sku, quantity=quantity)
        for spec in existing:
            _apply(cart, spec)
        before = _seen(cart)

        applied = _apply(cart, extra)
        event("extra coupon applied" if applied else "extra coupon refused")
        if applied:
            during = _seen(cart)
            extra_code = during[1][-1].code
            assert during[1][-1].is_applied
            assert during[2].subtotal_minor == before[2].subtotal_minor
            services.cart_coupon_remove(cart=cart, code=extra_code)

        assert _seen(cart) == before
        transaction.set_rollback(True)
