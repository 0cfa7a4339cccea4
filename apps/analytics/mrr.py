"""MRR normalisation: exact fractions, then one named rounding step.

See DEFINITIONS.md. The nightly SQL uses ``monthly_factor`` through
``sql_mrr_expression`` so the database and Python round the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from django.db.models import Case, ExpressionWrapper, IntegerField, Value, When
from django.db.models.expressions import Combinable

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
    *, amount: Combinable, interval_field: str, interval_count: Combinable
) -> Case:
    """The same MRR as ``mrr_minor`` (quantity 1, no discount) in SQL.

    Integer arithmetic only: ``(2·amount·num + den) div (2·den)`` is round
    half up for non-negative amounts, with den = base den × interval count.
    """
    whens = []
    for name, (num, den) in MONTHLY_FACTOR.items():
        denominator = Value(den) * interval_count
        whens.append(
            When(
                **{interval_field: name},
                then=ExpressionWrapper(
                    (Value(2 * num) * amount + denominator) / (Value(2) * denominator),
                    output_field=IntegerField(),
                ),
            )
        )
    return Case(*whens, default=Value(0), output_field=IntegerField())
