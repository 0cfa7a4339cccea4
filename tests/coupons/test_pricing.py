"""The pricing engine: hand-computed examples and properties (no database)."""

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.coupons.pricing import (
    CouponRule,
    Kind,
    PricingLine,
    StackingPolicy,
    TaxRate,
    price,
)

USD = "USD"
GENEROUS = StackingPolicy(
    max_coupons=5,
    percentage_with_fixed=True,
    multiple_percentage=True,
    free_shipping_combines=True,
)


def line(key, qty, unit, product=None, categories=()):
    return PricingLine(
        key=key,
        variant_id=key,
        quantity=qty,
        unit_price_minor=unit,
        product_id=product if product is not None else key * 100,
        category_ids=frozenset(categories),
    )


def pct(code, bp, **kw):
    return CouponRule(code=code, kind=Kind.PERCENTAGE, value=bp, **kw)


def fixed(code, amount, **kw):
    return CouponRule(code=code, kind=Kind.FIXED_AMOUNT, value=amount, **kw)


def free_ship(code, **kw):
    return CouponRule(code=code, kind=Kind.FREE_SHIPPING, **kw)


def bxgy(code, buy, get, bp, **kw):
    return CouponRule(
        code=code,
        kind=Kind.BUY_X_GET_Y,
        value=bp,
        buy_quantity=buy,
        get_quantity=get,
        **kw,
    )


# (id, lines, coupons, policy, shipping, taxes,
#  expected subtotal, discount, shipping discount, tax, total,
#  expected per-line discounts {key: amount})
EXAMPLES = [
    (
        "percentage-rounds-at-order-level-largest-remainder",
        [line(1, 2, 1000), line(2, 1, 333)],
        [pct("TEN", 1000)],
        None, 0, [],
        2333, 233, 0, 0, 2100,
        {1: 200, 2: 33},
    ),
    (
        "fixed-amount-capped-by-subtotal",
        [line(1, 1, 300)],
        [fixed("FIVE", 500)],
        None, 0, [],
        300, 300, 0, 0, 0,
        {1: 300},
    ),
    (
        "fixed-amount-max-discount-cap",
        [line(1, 1, 3000)],
        [fixed("FIVE", 500, maximum_discount_minor=400)],
        None, 0, [],
        3000, 400, 0, 0, 2600,
        {1: 400},
    ),
    (
        "percentage-max-discount-cap-allocated",
        [line(1, 1, 3000), line(2, 1, 2000)],
        [pct("HALF", 5000, maximum_discount_minor=1000)],
        None, 0, [],
        5000, 1000, 0, 0, 4000,
        {1: 600, 2: 400},
    ),
    (
        "free-shipping",
        [line(1, 1, 2500)],
        [free_ship("SHIPFREE")],
        None, 799, [],
        2500, 0, 799, 0, 2500,
        {1: 0},
    ),
    (
        "free-shipping-capped",
        [line(1, 1, 2500)],
        [free_ship("SHIP5", maximum_discount_minor=500)],
        None, 799, [],
        2500, 0, 500, 0, 2799,
        {1: 0},
    ),
    (
        "bxgy-buy-2-get-1-free-cheapest-units-mixed-prices",
        [line(1, 3, 1000), line(2, 1, 400), line(3, 2, 700)],
        [bxgy("B2G1", 2, 1, 10_000)],
        None, 0, [],
        4800, 1100, 0, 0, 3700,
        {1: 0, 2: 400, 3: 700},
    ),
    (
        "bxgy-buy-1-get-1-half-off-incomplete-group-ignored",
        [line(1, 1, 1000), line(2, 1, 600), line(3, 1, 300)],
        [bxgy("B1G1", 1, 1, 5000)],
        None, 0, [],
        1900, 150, 0, 0, 1750,
        {1: 0, 2: 0, 3: 150},
    ),
    (
        "bxgy-only-eligible-items-count",
        [line(1, 2, 1000), line(2, 2, 100)],
        [bxgy("B1G1", 1, 1, 10_000, include_variant_ids=frozenset({1}))],
        None, 0, [],
        2200, 1000, 0, 0, 1200,
        {1: 1000, 2: 0},
    ),
    (
        "stacking-percentage-first-by-priority-then-fixed-on-remainder",
        [line(1, 1, 10_000)],
        [fixed("FIVE", 500), pct("TEN", 1000, priority=10)],
        GENEROUS, 0, [],
        10_000, 1500, 0, 0, 8500,
        {1: 1500},
    ),
    (
        "stacking-fixed-first-by-priority-then-percentage-on-remainder",
        [line(1, 1, 10_000)],
        [fixed("FIVE", 500, priority=10), pct("TEN", 1000)],
        GENEROUS, 0, [],
        10_000, 1450, 0, 0, 8550,
        {1: 1450},
    ),
    (
        "stacking-two-percentages-and-free-shipping",
        [line(1, 1, 1000), line(2, 3, 333)],
        [pct("TEN", 1000), pct("FIVE", 500), free_ship("SHIP")],
        GENEROUS, 500, [],
        1999, 200 + 90, 500, 0, 1709,
        {1: 145, 2: 145},
    ),
    (
        "percentage-only-on-included-variant",
        [line(1, 1, 1000), line(2, 1, 500)],
        [pct("TWENTY", 2000, include_variant_ids=frozenset({2}))],
        None, 0, [],
        1500, 100, 0, 0, 1400,
        {1: 0, 2: 100},
    ),
    (
        "percentage-excluded-category-not-discounted",
        [line(1, 1, 1000, categories=[7]), line(2, 1, 500, categories=[8])],
        [pct("TWENTY", 2000, exclude_category_ids=frozenset({7}))],
        None, 0, [],
        1500, 100, 0, 0, 1400,
        {1: 0, 2: 100},
    ),
    (
        "tax-on-discounted-lines-and-shipping",
        [line(1, 1, 1000)],
        [pct("TEN", 1000)],
        None, 500, [TaxRate("VAT", 1000)],
        1000, 100, 0, 140, 1540,
        {1: 100},
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("lines", "coupons", "policy", "shipping", "taxes", "subtotal", "discount",
     "shipping_discount", "tax", "total", "line_discounts"),
    [pytest.param(*row[1:], id=row[0]) for row in EXAMPLES],
)  # fmt: skip
def test_price_hand_computed_example_matches_exactly(
    lines,
    coupons,
    policy,
    shipping,
    taxes,
    subtotal,
    discount,
    shipping_discount,
    tax,
    total,
    line_discounts,
):
    result = price(
        lines=lines,
        coupons=coupons,
        currency=USD,
        shipping_minor=shipping,
        tax_rates=taxes,
        policy=policy or GENEROUS,
    )
    assert result.rejected == ()
    assert result.subtotal_minor == subtotal
    assert result.discount_minor == discount
    assert result.shipping_discount_minor == shipping_discount
    assert result.tax_minor == tax
    assert result.total_minor == total
    assert {ln.key: ln.discount_minor for ln in result.lines} == line_discounts


def test_price_two_percentages_each_on_remaining_amount():
    result = price(
        lines=[line(1, 1, 1000), line(2, 3, 333)],
        coupons=[pct("TEN", 1000), pct("FIVE", 500)],
        currency=USD,
        policy=GENEROUS,
    )
    # FIVE sorts before TEN at equal priority: 5% of 1999 = 100, then 10% of 1899.
    assert [(a.code, a.discount_minor) for a in result.applied] == [
        ("FIVE", 100),
        ("TEN", 190),
    ]


@pytest.mark.parametrize(
    ("policy", "coupons", "refused", "conflict", "reason"),
    [
        (
            StackingPolicy(max_coupons=1),
            [pct("A", 1000), free_ship("B")],
            "B", "A", "max_coupons",
        ),
        (
            StackingPolicy(max_coupons=3, percentage_with_fixed=False),
            [pct("A", 1000), fixed("B", 100)],
            "B", "A", "percentage_with_fixed",
        ),
        (
            StackingPolicy(max_coupons=3, multiple_percentage=False),
            [pct("A", 1000), pct("B", 500)],
            "B", "A", "multiple_percentage",
        ),
        (
            StackingPolicy(max_coupons=3, free_shipping_combines=False),
            [fixed("A", 100), free_ship("B")],
            "B", "A", "free_shipping",
        ),
        (
            GENEROUS,
            [fixed("A", 100, is_combinable=False), fixed("B", 100)],
            "B", "A", "not_combinable",
        ),
    ],
)  # fmt: skip
def test_price_stacking_rule_refuses_second_coupon_with_conflicting_code(
    policy, coupons, refused, conflict, reason
):
    result = price(
        lines=[line(1, 1, 5000)], coupons=coupons, currency=USD, policy=policy
    )
    assert [a.code for a in result.applied] == [coupons[0].code]
    rejection = result.rejection(refused)
    assert rejection.error == "coupon_not_combinable"
    assert rejection.details["conflicting_code"] == conflict
    assert rejection.details["reason"] == reason
    assert result.discount_minor + result.shipping_discount_minor <= 5000


def test_price_minimum_not_met_reports_missing_amount():
    result = price(
        lines=[line(1, 2, 2000)],
        coupons=[pct("BIG", 1000, minimum_subtotal_minor=5000)],
        currency=USD,
    )
    assert result.discount_minor == 0
    rejection = result.rejection("BIG")
    assert rejection.error == "coupon_minimum_not_met"
    assert rejection.details["missing"] == {"amount": 1000, "currency": USD}
    assert rejection.details["minimum"] == {"amount": 5000, "currency": USD}
    assert rejection.message == (
        "Spend at least $50.00 to use coupon BIG; add $10.00 more."
    )


def test_price_minimum_not_met_message_uses_currency_exponent():
    result = price(
        lines=[line(1, 1, 1500)],
        coupons=[pct("YEN", 1000, currency="JPY", minimum_subtotal_minor=10_000)],
        currency="JPY",
    )
    rejection = result.rejection("YEN")
    assert rejection.message == (
        "Spend at least ¥10,000 to use coupon YEN; add ¥8,500 more."
    )
    assert rejection.details["missing"] == {"amount": 8500, "currency": "JPY"}


def test_price_no_eligible_item_refuses_not_applicable():
    result = price(
        lines=[line(1, 1, 2000)],
        coupons=[pct("ONLY9", 1000, include_product_ids=frozenset({9}))],
        currency=USD,
    )
    assert result.rejection("ONLY9").error == "coupon_not_applicable"
    assert result.total_minor == 2000


# --- properties ----------------------------------------------------------------

lines_strategy = st.lists(
    st.builds(
        line,
        key=st.integers(1, 40),
        qty=st.integers(1, 12),
        unit=st.integers(0, 200_000),
        product=st.integers(1, 5),
        categories=st.sets(st.integers(1, 4), max_size=2),
    ),
    min_size=0,
    max_size=8,
    unique_by=lambda ln: ln.key,
)
ids = st.frozensets(st.integers(1, 40), max_size=3)
coupon_strategy = st.one_of(
    st.builds(
        pct,
        code=st.sampled_from(["P1", "P2"]),
        bp=st.integers(0, 10_000),
        maximum_discount_minor=st.none() | st.integers(0, 50_000),
        include_variant_ids=ids,
        exclude_variant_ids=ids,
        priority=st.integers(-2, 2),
    ),
    st.builds(
        fixed,
        code=st.sampled_from(["F1", "F2"]),
        amount=st.integers(0, 300_000),
        maximum_discount_minor=st.none() | st.integers(0, 50_000),
        exclude_product_ids=st.frozensets(st.integers(1, 5), max_size=2),
        priority=st.integers(-2, 2),
    ),
    st.builds(
        free_ship,
        code=st.just("S"),
        maximum_discount_minor=st.none() | st.integers(0, 1000),
    ),
    st.builds(
        bxgy,
        code=st.sampled_from(["X1", "X2"]),
        buy=st.integers(1, 3),
        get=st.integers(1, 3),
        bp=st.integers(0, 10_000),
        include_category_ids=st.frozensets(st.integers(1, 4), max_size=2),
    ),
)
policy_strategy = st.builds(
    StackingPolicy,
    max_coupons=st.integers(1, 4),
    percentage_with_fixed=st.booleans(),
    multiple_percentage=st.booleans(),
    free_shipping_combines=st.booleans(),
)
taxes_strategy = st.lists(
    st.builds(
        TaxRate,
        name=st.sampled_from(["A", "B"]),
        basis_points=st.integers(0, 3000),
        applies_to_shipping=st.booleans(),
    ),
    max_size=2,
)


def _price(lines, coupons, policy, shipping, taxes):
    return price(
        lines=lines,
        coupons=coupons,
        currency=USD,
        shipping_minor=shipping,
        tax_rates=taxes,
        policy=policy,
    )


common = {
    "lines": lines_strategy,
    "coupons": st.lists(coupon_strategy, max_size=4, unique_by=lambda c: c.code),
    "policy": policy_strategy,
    "shipping": st.integers(0, 5000),
    "taxes": taxes_strategy,
}


@given(**common)
def test_price_property_totals_never_negative(lines, coupons, policy, shipping, taxes):
    result = _price(lines, coupons, policy, shipping, taxes)
    assert result.total_minor >= 0
    assert result.discount_minor >= 0
    assert result.tax_minor >= 0
    for ln in result.lines:
        assert ln.total_minor >= 0
        assert ln.discount_minor >= 0


@given(**common)
def test_price_property_discount_within_eligible_subtotal_and_shipping(
    lines, coupons, policy, shipping, taxes
):
    result = _price(lines, coupons, policy, shipping, taxes)
    rules = {c.code: c for c in coupons}
    for applied in result.applied:
        rule = rules[applied.code]
        eligible = sum(
            ln.unit_price_minor * ln.quantity for ln in lines if rule.is_eligible(ln)
        )
        assert applied.discount_minor <= eligible
        assert applied.shipping_discount_minor <= shipping
        if rule.maximum_discount_minor is not None:
            assert applied.amount_minor <= rule.maximum_discount_minor
    assert result.discount_minor <= result.subtotal_minor
    assert result.shipping_discount_minor <= shipping


@given(**common)
def test_price_property_line_discounts_sum_to_order_discount(
    lines, coupons, policy, shipping, taxes
):
    result = _price(lines, coupons, policy, shipping, taxes)
    assert sum(ln.discount_minor for ln in result.lines) == result.discount_minor
    for applied in result.applied:
        per_line = sum(
            d.amount_minor
            for ln in result.lines
            for d in ln.discounts
            if d.code == applied.code
        )
        assert per_line == applied.discount_minor
    for ln in result.lines:
        assert sum(d.amount_minor for d in ln.discounts) == ln.discount_minor


@given(**common, extra=coupon_strategy)
def test_price_property_refused_coupon_leaves_the_price_unchanged(
    lines, coupons, policy, shipping, taxes, extra
):
    """Adding a coupon the rules refuse prices exactly as without it.

    Applying then removing a coupon through the cart (its state, not this
    pure function) is tests/carts/test_pricing_properties.py.
    """
    coupons = [c for c in coupons if c.code != extra.code]
    without = _price(lines, coupons, policy, shipping, taxes)
    with_extra = _price(lines, [*coupons, extra], policy, shipping, taxes)
    refusal = with_extra.rejection(extra.code)
    if refusal is None:
        assert extra.code in {a.code for a in with_extra.applied}
        assert with_extra.subtotal_minor == without.subtotal_minor
        return
    assert with_extra.lines == without.lines
    assert with_extra.applied == without.applied
    assert (
        with_extra.discount_minor,
        with_extra.shipping_discount_minor,
        with_extra.tax_minor,
        with_extra.total_minor,
    ) == (
        without.discount_minor,
        without.shipping_discount_minor,
        without.tax_minor,
        without.total_minor,
    )
    assert with_extra.rejected == (*without.rejected, refusal)


@given(**common, seed=st.integers(0, 10_000))
def test_price_property_independent_of_line_order(
    lines, coupons, policy, shipping, taxes, seed
):
    shuffled = list(lines)
    random.Random(seed).shuffle(shuffled)
    a = _price(lines, coupons, policy, shipping, taxes)
    b = _price(shuffled, coupons, policy, shipping, taxes)
    assert {ln.key: ln for ln in a.lines} == {ln.key: ln for ln in b.lines}
    assert (a.subtotal_minor, a.discount_minor, a.shipping_discount_minor) == (
        b.subtotal_minor,
        b.discount_minor,
        b.shipping_discount_minor,
    )
    assert (a.tax_minor, a.total_minor, a.applied, a.rejected) == (
        b.tax_minor,
        b.total_minor,
        b.applied,
        b.rejected,
    )
