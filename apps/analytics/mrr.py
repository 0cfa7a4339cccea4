"""MRR normalisation: exact fractions, then one named rounding step.

See DEFINITIONS.md. The nightly SQL uses ``monthly_factor`` through
``sql_mrr_expression`` so the database and Python round the same way.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from django.db.models import Case, ExpressionWrapper, IntegerField, Value, When
from django.db.models.expressions import Combinable
from django.db.models.functions import Greatest

# (numerator, denominator) of the monthly factor for interval count 1.
MONTHLY_FACTOR: dict[str, tuple[int, int]] = {
    "month": (1, 1),
    "year": (1, 12),
    "week": (13, 3),  # 52 / 12
    "day": (1461, 48),  # 365.25 / 12
}

DiscountDuration = Literal["once", "repeating", "forever"]


@dataclass(frozen=True, slots=True)
class Discount:
    """A Stripe-style coupon on a subscription: a percentage or a fixed amount."""

    duration: DiscountDuration
    percent_off_bp: int = 0  # basis points: 2500 = 25 %
    amount_off_minor: int = 0  # per invoice, in the price's currency
    in_force: bool = True  # a repeating discount whose months have not run out


def add_months(day: dt.date, months: int) -> dt.date:
    """Return ``day`` + ``months`` calendar months, clamped to the month's end.

    Jan 31 + 1 month is Feb 28 (29 in a leap year), as Stripe and PostgreSQL
    count a repeating coupon's months.
    """
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def discount_in_force(
    *,
    duration: DiscountDuration,
    redeemed_at: dt.datetime,
    duration_in_months: int | None,
    day: dt.date,
) -> bool:
    """Say whether a subscription's coupon still discounts it at the end of ``day``.

    ``once`` never counts towards MRR; ``forever`` always does; ``repeating``
    does on the days before the redemption's UTC date + N months (the day its
    months run out it no longer does).
    """
    if duration == "forever":
        return True
    if duration == "once" or not duration_in_months:
        return False
    redeemed_on = redeemed_at.astimezone(dt.UTC).date()
    return day < add_months(redeemed_on, duration_in_months)


def monthly_factor(interval: str, interval_count: int = 1) -> Fraction:
    """Return the exact factor that turns one invoice's amount into a month's."""
    num, den = MONTHLY_FACTOR[interval]
    return Fraction(num, den * interval_count)


def round_half_up(value: Fraction) -> int:
    """The one rounding step of analytics: to whole minor units, half up."""
    return int((value + Fraction(1, 2)).__floor__())


def mrr_minor(
    *,
    amount_minor: int,
    interval: str,
    interval_count: int = 1,
    quantity: int = 1,
    discounts: tuple[Discount, ...] = (),
) -> int:
    """Return a subscription item's MRR in minor units (never below 0).

    ``once`` discounts and repeating discounts no longer in force are ignored.
    """
    factor = monthly_factor(interval, interval_count)
    gross = Fraction(amount_minor * quantity) * factor
    off = Fraction(0)
    for discount in discounts:
        if discount.duration == "once" or not discount.in_force:
            continue
        off += gross * Fraction(discount.percent_off_bp, 10_000)
        off += Fraction(discount.amount_off_minor) * factor
    return max(0, round_half_up(gross - off))


def sql_mrr_expression(
    *,
    amount: Combinable,
    interval_field: str,
    interval_count: Combinable,
    percent_off_bp: Combinable | None = None,
    amount_off_minor: Combinable | None = None,
) -> Case:
    """The same MRR as ``mrr_minor`` (quantity 1, at most one discount) in SQL.

    ``percent_off_bp`` and ``amount_off_minor`` are the discount in force (0
    for none); they must not be NULL. Integer arithmetic only: with
    net = amount × (10000 − percent) − 10000 × amount off and
    den = base den × interval count × 10000, ``(2·net·num + den) div (2·den)``
    is round half up for net ≥ 0; a negative net gives at most 0 (division
    truncates towards zero), which ``Greatest`` lifts to 0, as ``mrr_minor``
    does. Without a discount the 10000 scale is left out.
    """
    if percent_off_bp is None and amount_off_minor is None:
        net: Combinable = amount
        scale = 1
    else:
        percent = percent_off_bp if percent_off_bp is not None else Value(0)
        off = amount_off_minor if amount_off_minor is not None else Value(0)
        net = amount * (Value(10_000) - percent) - Value(10_000) * off
        scale = 10_000
    whens = []
    for name, (num, den) in MONTHLY_FACTOR.items():
        denominator = Value(den * scale) * interval_count
        rounded = ExpressionWrapper(
            (Value(2 * num) * net + denominator) / (Value(2) * denominator),
            output_field=IntegerField(),
        )
        whens.append(
            When(
                **{interval_field: name},
                then=Greatest(Value(0), rounded, output_field=IntegerField()),
            )
        )
    return Case(*whens, default=Value(0), output_field=IntegerField())
