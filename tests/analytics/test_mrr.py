import datetime as dt
from fractions import Fraction

import pytest
from django.db.models import F, Value

from apps.analytics.mrr import (
    Discount,
    add_months,
    discount_in_force,
    monthly_factor,
    mrr_minor,
    round_half_up,
    sql_mrr_expression,
)
from apps.subscriptions.models import PlanPrice
from tests.subscriptions.factories import PlanPriceFactory


@pytest.mark.parametrize(
    ("amount", "interval", "count", "expected"),
    [
        (1000, "month", 1, 1000),
        (1000, "month", 3, 333),  # 333.33
        (2000, "month", 3, 667),  # 666.67
        (12000, "year", 1, 1000),
        (10000, "year", 1, 833),  # 833.33
        (10002, "year", 1, 834),  # 833.5 rounds half up
        (1000, "week", 1, 4333),  # 1000 × 52 ÷ 12 = 4333.33
        (1000, "week", 2, 2167),  # 2166.67
        (100, "day", 1, 3044),  # 100 × 365.25 ÷ 12 = 3043.75
        (100, "day", 7, 435),  # 434.82
        (0, "month", 1, 0),
    ],
)
def test_mrr_minor_normalises_interval_to_a_month(amount, interval, count, expected):
    assert (
        mrr_minor(amount_minor=amount, interval=interval, interval_count=count)
        == expected
    )


def test_mrr_minor_multiplies_quantity_before_rounding():
    # 3 × 10000 ÷ 12 = 2500 exactly; rounding each seat would give 3 × 833.
    assert mrr_minor(amount_minor=10000, interval="year", quantity=3) == 2500


def test_round_half_up_rounds_halves_up_only():
    assert round_half_up(Fraction(5, 2)) == 3
    assert round_half_up(Fraction(249, 100)) == 2
    assert round_half_up(Fraction(0)) == 0


def test_monthly_factor_of_a_day_is_365_25_over_12():
    assert monthly_factor("day") == Fraction(36525, 1200)
    assert monthly_factor("week", 2) == Fraction(52, 24)


@pytest.mark.parametrize(
    ("discount", "expected"),
    [
        (Discount("forever", percent_off_bp=2500), 750),
        (Discount("repeating", percent_off_bp=2500), 750),
        (Discount("repeating", percent_off_bp=2500, in_force=False), 1000),
        (Discount("once", percent_off_bp=2500), 1000),
        (Discount("forever", amount_off_minor=300), 700),
        (Discount("forever", amount_off_minor=5000), 0),  # never below 0
    ],
)
def test_mrr_minor_subtracts_forever_and_repeating_in_force_only(discount, expected):
    got = mrr_minor(amount_minor=1000, interval="month", discounts=(discount,))
    assert got == expected


def test_mrr_minor_normalises_a_fixed_discount_like_the_price():
    # 12000/year − 1200/year off = 10800 ÷ 12 = 900 a month.
    got = mrr_minor(
        amount_minor=12000,
        interval="year",
        discounts=(Discount("forever", amount_off_minor=1200),),
    )
    assert got == 900


def test_mrr_minor_rounds_once_after_the_discount():
    # 1000 ÷ 3 = 333.33…; 10 % off gives 300 exactly, not round(333) × 0.9.
    got = mrr_minor(
        amount_minor=1000,
        interval="month",
        interval_count=3,
        discounts=(Discount("forever", percent_off_bp=1000),),
    )
    assert got == 300


@pytest.mark.django_db
def test_sql_mrr_expression_matches_python_for_every_interval():
    cases = [
        (a, i, c)
        for a in (0, 1, 99, 1000, 10002, 123457)
        for i in ("day", "week", "month", "year")
        for c in (1, 2, 3, 7)
    ]
    for amount, interval, count in cases:
        PlanPriceFactory(amount_minor=amount, interval=interval, interval_count=count)
    rows = PlanPrice.objects.annotate(
        mrr=sql_mrr_expression(
            amount=F("amount_minor"),
            interval_field="interval",
            interval_count=F("interval_count"),
        )
    ).values_list("amount_minor", "interval", "interval_count", "mrr")
    assert len(rows) == len(cases)
    for amount, interval, count, mrr in rows:
        assert mrr == mrr_minor(
            amount_minor=amount, interval=interval, interval_count=count
        ), (amount, interval, count)


@pytest.mark.django_db
def test_sql_mrr_expression_with_a_discount_matches_python():
    cases = [
        (1000, "month", 1, 2500, 0),
        (1000, "month", 3, 1000, 0),  # 300 exactly
        (10002, "year", 1, 3333, 0),
        (250, "week", 2, 0, 100),
        (99, "day", 1, 0, 33),
        (1000, "month", 1, 0, 1000),  # nothing left
        (1000, "month", 1, 0, 5000),  # more off than the price: 0
        (1000, "month", 1, 10_000, 0),  # 100 % off
        (12000, "year", 1, 0, 1200),
        (123457, "week", 3, 1, 0),
        (7, "year", 7, 0, 0),
    ]
    for amount, interval, count, _percent, _off in cases:
        PlanPriceFactory(amount_minor=amount, interval=interval, interval_count=count)
    prices = list(PlanPrice.objects.order_by("pk"))
    for price, (_amount, _interval, _count, percent, off) in zip(
        prices, cases, strict=True
    ):
        got = (
            PlanPrice.objects.filter(pk=price.pk)
            .annotate(
                mrr=sql_mrr_expression(
                    amount=F("amount_minor"),
                    interval_field="interval",
                    interval_count=F("interval_count"),
                    percent_off_bp=Value(percent),
                    amount_off_minor=Value(off),
                )
            )
            .values_list("mrr", flat=True)
            .get()
        )
        want = mrr_minor(
            amount_minor=price.amount_minor,
            interval=price.interval,
            interval_count=price.interval_count,
            discounts=(
                Discount("forever", percent_off_bp=percent, amount_off_minor=off),
            ),
        )
        assert got == want, (price, percent, off)


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        ("2026-01-15", 1, "2026-02-15"),
        ("2026-01-31", 1, "2026-02-28"),  # clamped to the month's end
        ("2028-01-31", 1, "2028-02-29"),  # a leap year
        ("2025-11-30", 3, "2026-02-28"),
        ("2025-10-05", 3, "2026-01-05"),
        ("2026-03-31", 12, "2027-03-31"),
    ],
)
def test_add_months_clamps_to_the_end_of_the_month(day, months, expected):
    assert add_months(dt.date.fromisoformat(day), months) == dt.date.fromisoformat(
        expected
    )


@pytest.mark.parametrize(
    ("duration", "months", "day", "expected"),
    [
        ("forever", None, "2030-01-01", True),
        ("once", None, "2026-01-31", False),
        ("repeating", 1, "2026-02-27", True),
        ("repeating", 1, "2026-02-28", False),  # Jan 31 + 1 month, clamped
        ("repeating", 2, "2026-03-30", True),
        ("repeating", 2, "2026-03-31", False),
    ],
)
def test_discount_in_force_repeating_ends_on_the_date_n_months_on(
    duration, months, day, expected
):
    redeemed_at = dt.datetime(2026, 1, 31, 23, 30, tzinfo=dt.UTC)
    assert (
        discount_in_force(
            duration=duration,
            redeemed_at=redeemed_at,
            duration_in_months=months,
            day=dt.date.fromisoformat(day),
        )
        is expected
    )
