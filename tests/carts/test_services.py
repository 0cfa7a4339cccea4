import datetime

import pytest
from django.utils import timezone

from apps.carts import selectors, services
from apps.carts.exceptions import CartVersionConflict, InsufficientStock
from apps.carts.models import Cart, CartLine
from apps.coupons.exceptions import CouponNotApplicable
from apps.inventory.exceptions import QuantityLimitExceeded, VariantUnavailable
from tests.accounts.factories import UserFactory
from tests.carts.factories import CartFactory, CartLineFactory
from tests.coupons.factories import CouponFactory
from tests.inventory.factories import VariantFactory

pytestmark = pytest.mark.django_db


def test_cart_line_add_same_sku_twice_merges_into_one_line():
    cart = CartFactory()
    variant = VariantFactory(stock=10, price_minor=1250)
    services.cart_line_add(cart=cart, sku=variant.sku, quantity=2)
    cart = services.cart_line_add(cart=cart, sku=variant.sku, quantity=3)
    line = CartLine.objects.get(cart=cart)
    assert line.quantity == 5
    assert line.unit_price_minor == 1250
    assert cart.version == 3
    assert selectors.cart_view(cart=cart).breakdown.total_minor == 6250


def test_cart_line_add_beyond_stock_raises_insufficient_stock():
    cart = CartFactory()
    variant = VariantFactory(stock=3)
    with pytest.raises(InsufficientStock) as exc:
        services.cart_line_add(cart=cart, sku=variant.sku, quantity=4)
    assert exc.value.details["available"] == 3
    assert not CartLine.objects.exists()


def test_cart_line_add_backorderable_beyond_stock_is_allowed():
    cart = CartFactory()
    variant = VariantFactory(stock=1, backorderable=True)
    services.cart_line_add(cart=cart, sku=variant.sku, quantity=4)
    view = selectors.cart_view(cart=cart)
    assert view.lines[0].quantity == 4
    assert [n.code for n in view.lines[0].notices] == ["backorder"]


def test_cart_line_add_above_max_per_order_raises_limit():
    cart = CartFactory()
    variant = VariantFactory(stock=50, max_per_order=2)
    with pytest.raises(QuantityLimitExceeded) as exc:
        services.cart_line_add(cart=cart, sku=variant.sku, quantity=3)
    assert exc.value.details["max"] == 2


def test_cart_line_add_above_global_cap_raises_limit(settings):
    settings.CART_MAX_LINE_QUANTITY = 5
    variant = VariantFactory(stock=50)
    with pytest.raises(QuantityLimitExceeded):
        services.cart_line_add(cart=CartFactory(), sku=variant.sku, quantity=6)


def test_cart_line_add_inactive_variant_raises_unavailable():
    variant = VariantFactory(stock=5, is_active=False)
    with pytest.raises(VariantUnavailable):
        services.cart_line_add(cart=CartFactory(), sku=variant.sku, quantity=1)


def test_cart_line_add_does_not_reserve_stock():
    variant = VariantFactory(stock=2)
    services.cart_line_add(cart=CartFactory(), sku=variant.sku, quantity=2)
    services.cart_line_add(cart=CartFactory(), sku=variant.sku, quantity=2)
    assert CartLine.objects.filter(variant=variant).count() == 2


def test_cart_write_with_stale_version_raises_conflict():
    cart = CartFactory()
    variant = VariantFactory(stock=5)
    services.cart_line_add(cart=cart, sku=variant.sku, expected_version=1)
    with pytest.raises(CartVersionConflict) as exc:
        services.cart_line_add(cart=cart, sku=variant.sku, expected_version=1)
    assert exc.value.details["current_version"] == 2


def test_cart_line_set_quantity_zero_removes_line():
    line = CartLineFactory(quantity=2)
    services.cart_line_set_quantity(cart=line.cart, line_id=line.pk, quantity=0)
    assert not CartLine.objects.exists()


def test_cart_view_changed_price_and_reduced_stock_show_notices_not_applied():
    line = CartLineFactory(
        quantity=4, variant=VariantFactory(stock=2, price_minor=1000)
    )
    line.variant.price_minor = 1200
    line.variant.save()
    view = selectors.cart_view(cart=line.cart)
    codes = [n.code for n in view.lines[0].notices]
    assert codes == ["price_changed", "quantity_exceeds_availability"]
    assert view.lines[0].quantity == 4  # not silently lowered
    assert view.lines[0].added_unit_price_minor == 1000
    assert view.breakdown.subtotal_minor == 4800


def test_cart_coupon_apply_then_remove_restores_totals():
    cart = CartFactory()
    variant = VariantFactory(stock=10, price_minor=3333)
    services.cart_line_add(cart=cart, sku=variant.sku, quantity=3)
    before = selectors.cart_view(cart=cart).breakdown
    coupon = CouponFactory(value=1500)
    services.cart_coupon_apply(cart=cart, code=coupon.code.lower())
    applied = selectors.cart_view(cart=cart).breakdown
    assert applied.discount_minor == 1500  # 15 % of 9999, half up
    assert applied.total_minor == 9999 - 1500
    services.cart_coupon_remove(cart=cart, code=coupon.code)
    after = selectors.cart_view(cart=cart).breakdown
    assert after == before


def test_cart_coupon_apply_does_not_count_redemption():
    cart = CartLineFactory().cart
    coupon = CouponFactory(usage_limit=1)
    services.cart_coupon_apply(cart=cart, code=coupon.code)
    coupon.refresh_from_db()
    assert coupon.times_redeemed == 0


def test_cart_coupon_apply_minimum_not_met_raises_with_missing_amount():
    cart = CartLineFactory(variant=VariantFactory(stock=5, price_minor=1000)).cart
    coupon = CouponFactory(minimum_subtotal_minor=2500)
    with pytest.raises(CouponNotApplicable) as exc:
        services.cart_coupon_apply(cart=cart, code=coupon.code)
    assert exc.value.code == "coupon_minimum_not_met"
    assert exc.value.details["missing"] == {"amount": 1500, "currency": "USD"}
    assert not cart.coupons.exists()


def test_cart_merge_adds_quantities_caps_by_stock_and_keeps_valid_coupon():
    user = UserFactory()
    shared = VariantFactory(stock=5, price_minor=1000)
    only_guest = VariantFactory(stock=9, price_minor=500)
    mine = CartFactory(user=user)
    CartLineFactory(cart=mine, variant=shared, quantity=3)
    guest = CartFactory()
    CartLineFactory(cart=guest, variant=shared, quantity=4)
    CartLineFactory(cart=guest, variant=only_guest, quantity=2)
    coupon = CouponFactory()
    services.cart_coupon_apply(cart=guest, code=coupon.code)

    result = services.cart_merge(source=guest, user=user)

    quantities = dict(
        CartLine.objects.filter(cart=mine).values_list("variant__sku", "quantity")
    )
    assert quantities == {shared.sku: 5, only_guest.sku: 2}
    assert [n.code for n in result.notices] == ["capped"]
    assert result.notices[0].details == {
        "sku": shared.sku,
        "requested": 7,
        "quantity": 5,
    }
    assert list(mine.coupons.values_list("coupon__code", flat=True)) == [coupon.code]
    assert not Cart.objects.filter(pk=guest.pk).exists()


def test_cart_merge_without_user_cart_adopts_guest_cart():
    user = UserFactory()
    guest = CartLineFactory().cart
    result = services.cart_merge(source=guest, user=user)
    assert result.cart.pk == guest.pk
    guest.refresh_from_db()
    assert guest.user == user


def test_carts_expire_marks_idle_abandoned_and_deletes_old_anonymous(settings):
    settings.CART_ABANDON_AFTER_DAYS = 7
    settings.CART_DELETE_ANONYMOUS_AFTER_DAYS = 30
    now = timezone.now()
    fresh = CartFactory()
    idle_user_cart = CartFactory(user=UserFactory())
    idle_guest = CartFactory()
    ancient_guest = CartFactory()
    Cart.objects.filter(pk__in=[idle_user_cart.pk, idle_guest.pk]).update(
        updated_at=now - datetime.timedelta(days=8)
    )
    Cart.objects.filter(pk=ancient_guest.pk).update(
        updated_at=now - datetime.timedelta(days=31)
    )
    result = services.carts_expire(now=now)
    assert (result.abandoned, result.deleted) == (2, 1)
    statuses = dict(Cart.objects.values_list("pk", "status"))
    assert statuses == {
        fresh.pk: "open",
        idle_user_cart.pk: "abandoned",
        idle_guest.pk: "abandoned",
    }
    assert services.carts_expire(now=now) == services.ExpiryResult(0, 0)


def test_expire_carts_task_runs_service():
    from apps.carts.tasks import expire_carts

    cart = CartFactory()
    Cart.objects.filter(pk=cart.pk).update(
        updated_at=timezone.now() - datetime.timedelta(days=60)
    )
    assert expire_carts.delay().get() == {"abandoned": 0, "deleted": 1}


def test_cart_transition_checked_out_then_writes_refused():
    from apps.carts.exceptions import CartNotOpen

    line = CartLineFactory()
    services.cart_transition(cart_id=line.cart.pk, to=Cart.Status.CHECKED_OUT)
    with pytest.raises(CartNotOpen):
        services.cart_line_remove(cart=line.cart, line_id=line.pk)
