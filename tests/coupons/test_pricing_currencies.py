"""Coupons across currencies, and buy X get Y on large quantities (no database)."""

from hypothesis import given
from hypothesis import strategies as st

from apps.coupons.pricing import (
    CouponRule,
    Kind,
    PricingLine,
    _bxgy_weights,
    price,
)

EUR = "EUR"


def line(key, qty, unit):
    return PricingLine(key=key, variant_id=key, quantity=qty, unit_price_minor=unit)


def rule(code, kind, value=0, **kw):
    return CouponRule(code=code, kind=kind, value=value, **kw)


def bxgy(buy, get, bp=10_000):
    return rule("BXGY", Kind.BUY_X_GET_Y, bp, buy_quantity=buy, get_quantity=get)


def test_price_eur_cart_usd_percentage_coupon_applies():
    result = price(
        lines=[line(1, 2, 1250), line(2, 1, 999)],
        coupons=[rule("TEN", Kind.PERCENTAGE, 1000, currency="USD")],
        currency=EUR,
        shipping_minor=490,
    )

    assert result.rejected == ()
    assert result.subtotal_minor == 3499
    assert result.discount_minor == 350
    assert {ln.key: ln.discount_minor for ln in result.lines} == {1: 250, 2: 100}
    assert result.total_minor == 3499 - 350 + 490
    assert result.currency == EUR


def test_price_eur_cart_usd_free_shipping_coupon_applies():
    result = price(
        lines=[line(1, 1, 2000)],
        coupons=[rule("SHIP", Kind.FREE_SHIPPING, currency="USD")],
        currency=EUR,
        shipping_minor=490,
    )

    assert result.rejected == ()
    assert result.shipping_discount_minor == 490
    assert result.total_minor == 2000


def test_price_eur_cart_usd_buy_two_get_one_coupon_applies():
    result = price(
        lines=[line(1, 2, 1000), line(2, 1, 400)],
        coupons=[bxgy(2, 1)],
        currency=EUR,
    )

    assert result.rejected == ()
    assert result.discount_minor == 400
    assert result.total_minor == 2000


def test_price_eur_cart_usd_fixed_coupon_refused_not_applicable():
    result = price(
        lines=[line(1, 1, 2000)],
        coupons=[rule("FIVE", Kind.FIXED_AMOUNT, 500, currency="USD")],
        currency=EUR,
    )

    assert result.applied == ()
    assert result.total_minor == 2000
    rejection = result.rejection("FIVE")
    assert rejection.error == "coupon_not_applicable"
    assert rejection.message == "Coupon FIVE is not valid in EUR."
    assert rejection.details == {"currency": "USD"}


def test_price_eur_cart_eur_fixed_coupon_applies():
    result = price(
        lines=[line(1, 1, 2000)],
        coupons=[rule("FIVE", Kind.FIXED_AMOUNT, 500, currency=EUR)],
        currency=EUR,
    )

    assert result.rejected == ()
    assert result.total_minor == 1500


def test_price_eur_cart_usd_percentage_with_usd_cap_refused_not_applicable():
    result = price(
        lines=[line(1, 1, 20_000)],
        coupons=[
            rule(
                "TEN",
                Kind.PERCENTAGE,
                1000,
                currency="USD",
                maximum_discount_minor=500,
            )
        ],
        currency=EUR,
    )

    assert result.rejection("TEN").error == "coupon_not_applicable"
    assert result.total_minor == 20_000


def test_price_eur_cart_usd_percentage_with_usd_minimum_refused_not_applicable():
    result = price(
        lines=[line(1, 1, 20_000)],
        coupons=[
            rule(
                "TEN",
                Kind.PERCENTAGE,
                1000,
                currency="USD",
                minimum_subtotal_minor=5000,
            )
        ],
        currency=EUR,
    )

    assert result.rejection("TEN").error == "coupon_not_applicable"


def test_price_buy_two_get_one_million_units_discounts_a_third():
    result = price(
        lines=[line(1, 10**6, 300), line(2, 2, 100)],
        coupons=[bxgy(2, 1)],
        currency="USD",
    )

    free_units = (10**6 + 2) // 3
    assert result.line(2).discount_minor == 200
    assert result.line(1).discount_minor == (free_units - 2) * 300
    assert result.discount_minor == 200 + (free_units - 2) * 300


def _bxgy_weights_per_unit(rule, eligible, remaining):
    group = rule.buy_quantity + rule.get_quantity
    if rule.buy_quantity < 1 or rule.get_quantity < 1:
        return {}
    units = sorted(
        (line.unit_price_minor, line.key)
        for line in eligible
        for _ in range(line.quantity)
    )
    discounted = units[: (len(units) // group) * rule.get_quantity]
    weights = {}
    for price_minor, key in discounted:
        weights[key] = weights.get(key, 0) + price_minor
    return {key: min(value, remaining[key]) for key, value in weights.items()}


@given(
    lines=st.lists(
        st.builds(
            line,
            key=st.integers(1, 30),
            qty=st.integers(0, 12),
            unit=st.integers(0, 50) | st.integers(0, 100_000),
        ),
        max_size=8,
        unique_by=lambda ln: ln.key,
    ),
    buy=st.integers(0, 4),
    get=st.integers(0, 4),
    cut=st.integers(0, 1_500_000),
)
def test_bxgy_weights_property_matches_per_unit_allocation(lines, buy, get, cut):
    offer = bxgy(buy, get)
    remaining = {ln.key: min(cut, ln.quantity * ln.unit_price_minor) for ln in lines}

    assert _bxgy_weights(offer, lines, remaining) == _bxgy_weights_per_unit(
        offer, lines, remaining
    )
