"""The pricing engine: one pure function from lines and coupons to a breakdown.

No database access happens here. Carts price themselves with it on every view
and checkout calls it again with a shipping amount and tax rates. Coupons are
plain value objects (:class:`CouponRule`), so the same rules apply wherever a
price is computed.

Rounding is defined once, here:

* amounts are integer minor units;
* a coupon's discount is computed at order level over its eligible lines
  (percentages rounded half up by :func:`apps.core.money.percent_of`), capped by
  the coupon's maximum and by what is left to discount, then spread across the
  eligible lines by largest remainder (:func:`apps.core.money.allocate`), so
  line discounts always add up to the order discount;
* coupons are applied in priority order (highest first, then code), each on
  what earlier coupons left of a line, so no line and no total goes negative;
* tax is computed per rate at order level on the discounted lines (and the
  discounted shipping when the rate covers shipping), then allocated the same way.

The result does not depend on the order of the lines: lines are processed in
``key`` order and returned in the order given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from apps.core.money import Money, allocate, money_api, percent_of


class Kind:
    PERCENTAGE = "percentage"
    FIXED_AMOUNT = "fixed_amount"
    FREE_SHIPPING = "free_shipping"
    BUY_X_GET_Y = "buy_x_get_y"


@dataclass(frozen=True, slots=True)
class PricingLine:
    """One line to price: ``key`` must be unique within a call (a variant id)."""

    key: int
    variant_id: int
    quantity: int
    unit_price_minor: int
    product_id: int | None = None
    category_ids: frozenset[int] = frozenset()
    # False for a gift card: a discount on one would turn a coupon into
    # store credit (the card is issued at face value).
    discountable: bool = True


@dataclass(frozen=True, slots=True)
class CouponRule:
    """What the engine needs to know about a coupon; built from the model."""

    code: str
    kind: str
    value: int = 0  # basis points (percentage, buy X get Y) or minor units (fixed)
    currency: str = "USD"
    minimum_subtotal_minor: int = 0
    maximum_discount_minor: int | None = None
    priority: int = 0
    is_combinable: bool = True
    buy_quantity: int = 0
    get_quantity: int = 0
    include_product_ids: frozenset[int] = frozenset()
    include_variant_ids: frozenset[int] = frozenset()
    include_category_ids: frozenset[int] = frozenset()
    exclude_product_ids: frozenset[int] = frozenset()
    exclude_variant_ids: frozenset[int] = frozenset()
    exclude_category_ids: frozenset[int] = frozenset()

    def is_eligible(self, line: PricingLine) -> bool:
        if (
            not line.discountable
            or line.variant_id in self.exclude_variant_ids
            or line.product_id in self.exclude_product_ids
            or line.category_ids & self.exclude_category_ids
        ):
            return False
        if not (
            self.include_variant_ids
            or self.include_product_ids
            or self.include_category_ids
        ):
            return True
        return bool(
            line.variant_id in self.include_variant_ids
            or line.product_id in self.include_product_ids
            or line.category_ids & self.include_category_ids
        )


@dataclass(frozen=True, slots=True)
class StackingPolicy:
    max_coupons: int = 1
    percentage_with_fixed: bool = False
    multiple_percentage: bool = False
    free_shipping_combines: bool = True


@dataclass(frozen=True, slots=True)
class TaxRate:
    name: str
    basis_points: int
    applies_to_shipping: bool = True


@dataclass(frozen=True, slots=True)
class LineDiscount:
    code: str
    amount_minor: int


@dataclass(frozen=True, slots=True)
class LineBreakdown:
    key: int
    quantity: int
    unit_price_minor: int
    subtotal_minor: int
    discount_minor: int
    discounts: tuple[LineDiscount, ...]
    tax_minor: int

    @property
    def total_minor(self) -> int:
        """Return the line after discounts, before tax."""
        return self.subtotal_minor - self.discount_minor


@dataclass(frozen=True, slots=True)
class AppliedCoupon:
    code: str
    kind: str
    discount_minor: int
    shipping_discount_minor: int

    @property
    def amount_minor(self) -> int:
        return self.discount_minor + self.shipping_discount_minor


@dataclass(frozen=True, slots=True)
class RejectedCoupon:
    """A coupon the rules refused; ``error`` is a stable coupon error code."""

    code: str
    error: str
    message: str
    details: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True, slots=True)
class TaxLine:
    name: str
    basis_points: int
    amount_minor: int


@dataclass(frozen=True, slots=True)
class Breakdown:
    currency: str
    lines: tuple[LineBreakdown, ...]
    applied: tuple[AppliedCoupon, ...]
    rejected: tuple[RejectedCoupon, ...]
    subtotal_minor: int
    discount_minor: int
    shipping_minor: int
    shipping_discount_minor: int
    taxes: tuple[TaxLine, ...]
    tax_minor: int
    total_minor: int

    @property
    def total_discount_minor(self) -> int:
        return self.discount_minor + self.shipping_discount_minor

    def line(self, key: int) -> LineBreakdown:
        for line in self.lines:
            if line.key == key:
                return line
        raise KeyError(key)

    def rejection(self, code: str) -> RejectedCoupon | None:
        for rejected in self.rejected:
            if rejected.code.upper() == code.upper():
                return rejected
        return None


def _conflict(
    rule: CouponRule, accepted: list[CouponRule], policy: StackingPolicy
) -> tuple[CouponRule | None, str]:
    """Return the accepted coupon that ``rule`` cannot be combined with, and why."""
    if not accepted:
        return None, ""
    if len(accepted) >= policy.max_coupons:
        return accepted[-1], "max_coupons"
    for other in accepted:
        if not rule.is_combinable or not other.is_combinable:
            return other, "not_combinable"
        kinds = {rule.kind, other.kind}
        if Kind.FREE_SHIPPING in kinds and not policy.free_shipping_combines:
            return other, "free_shipping"
        if kinds == {Kind.PERCENTAGE, Kind.FIXED_AMOUNT} and (
            not policy.percentage_with_fixed
        ):
            return other, "percentage_with_fixed"
        if (
            rule.kind == other.kind == Kind.PERCENTAGE
            and not policy.multiple_percentage
        ):
            return other, "multiple_percentage"
    return None, ""


def _currency_bound(rule: CouponRule) -> bool:
    """Say whether the coupon only works in its own currency.

    A fixed amount, a minimum subtotal and a maximum discount are minor units
    of the coupon's currency; a bare percentage, free shipping or buy X get Y
    means the same in any currency.
    """
    return (
        rule.kind == Kind.FIXED_AMOUNT
        or rule.minimum_subtotal_minor > 0
        or rule.maximum_discount_minor is not None
    )


def _bxgy_weights(
    rule: CouponRule, eligible: list[PricingLine], remaining: dict[int, int]
) -> dict[int, int]:
    """Return, per line key, the value of the units that the offer discounts.

    Units are ranked by price (then line key); for every full group of
    buy + get units, the cheapest ``get`` units overall are discounted.
    """
    group = rule.buy_quantity + rule.get_quantity
    if rule.buy_quantity < 1 or rule.get_quantity < 1:
        return {}
    counted = [line for line in eligible if line.quantity > 0]
    free_units = (sum(line.quantity for line in counted) // group) * rule.get_quantity
    weights: dict[int, int] = {}
    for line in sorted(counted, key=lambda line: (line.unit_price_minor, line.key)):
        if free_units <= 0:
            break
        taken = min(line.quantity, free_units)
        free_units -= taken
        weights[line.key] = weights.get(line.key, 0) + taken * line.unit_price_minor
    return {key: min(value, remaining[key]) for key, value in weights.items()}


def price(
    *,
    lines: Sequence[PricingLine],
    coupons: Sequence[CouponRule] = (),
    currency: str,
    shipping_minor: int = 0,
    tax_rates: Sequence[TaxRate] = (),
    policy: StackingPolicy | None = None,
) -> Breakdown:
    """Price ``lines`` with ``coupons``, shipping and exclusive tax rates.

    Coupons are accepted in the order given (the order the shopper added them),
    checked against the stacking ``policy``, the minimum subtotal and
    eligibility; refused ones are listed in ``Breakdown.rejected`` with their
    error code. Accepted coupons are then applied by priority.
    """
    policy = policy or StackingPolicy()
    ordered = sorted(lines, key=lambda line: line.key)
    subtotal = sum(line.unit_price_minor * line.quantity for line in ordered)
    remaining = {line.key: line.unit_price_minor * line.quantity for line in ordered}
    line_discounts: dict[int, list[LineDiscount]] = {line.key: [] for line in ordered}
    shipping_left = shipping_minor

    accepted: list[CouponRule] = []
    rejected: list[RejectedCoupon] = []
    seen: set[str] = set()
    for rule in coupons:
        if rule.code.upper() in seen:
            continue
        seen.add(rule.code.upper())
        if _currency_bound(rule) and rule.currency != currency:
            rejected.append(
                RejectedCoupon(
                    rule.code,
                    "coupon_not_applicable",
                    f"Coupon {rule.code} is not valid in {currency}.",
                    {"currency": rule.currency},
                )
            )
            continue
        other, reason = _conflict(rule, accepted, policy)
        if other is not None:
            rejected.append(
                RejectedCoupon(
                    rule.code,
                    "coupon_not_combinable",
                    f"Coupon {rule.code} cannot be combined with {other.code}.",
                    {"conflicting_code": other.code, "reason": reason},
                )
            )
            continue
        if subtotal < rule.minimum_subtotal_minor:
            missing = rule.minimum_subtotal_minor - subtotal
            rejected.append(
                RejectedCoupon(
                    rule.code,
                    "coupon_minimum_not_met",
                    f"Spend at least "
                    f"{Money(rule.minimum_subtotal_minor, currency).format()} to use "
                    f"coupon {rule.code}; add {Money(missing, currency).format()} "
                    "more.",
                    {
                        "minimum": money_api(rule.minimum_subtotal_minor, currency),
                        "missing": money_api(missing, currency),
                    },
                )
            )
            continue
        if not any(rule.is_eligible(line) for line in ordered):
            rejected.append(
                RejectedCoupon(
                    rule.code,
                    "coupon_not_applicable",
                    f"Coupon {rule.code} does not apply to any item in the cart.",
                )
            )
            continue
        accepted.append(rule)

    applied: list[AppliedCoupon] = []
    for rule in sorted(accepted, key=lambda r: (-r.priority, r.code.upper())):
        eligible = [line for line in ordered if rule.is_eligible(line)]
        shipping_off = 0
        if rule.kind == Kind.FREE_SHIPPING:
            shipping_off = shipping_left
            if rule.maximum_discount_minor is not None:
                shipping_off = min(shipping_off, rule.maximum_discount_minor)
            shipping_left -= shipping_off
            weights: dict[int, int] = {}
            amount = 0
        else:
            if rule.kind == Kind.BUY_X_GET_Y:
                weights = _bxgy_weights(rule, eligible, remaining)
                amount = percent_of(sum(weights.values()), rule.value)
            else:
                weights = {line.key: remaining[line.key] for line in eligible}
                base = sum(weights.values())
                if rule.kind == Kind.PERCENTAGE:
                    amount = percent_of(base, rule.value)
                else:
                    amount = rule.value
            if rule.maximum_discount_minor is not None:
                amount = min(amount, rule.maximum_discount_minor)
            amount = max(0, min(amount, sum(weights.values())))
        keys = sorted(weights)
        for key, share in zip(
            keys, allocate(amount, [weights[k] for k in keys]), strict=True
        ):
            if share:
                remaining[key] -= share
                line_discounts[key].append(LineDiscount(rule.code, share))
        applied.append(AppliedCoupon(rule.code, rule.kind, amount, shipping_off))

    discount = sum(coupon.discount_minor for coupon in applied)
    shipping_discount = shipping_minor - shipping_left

    # Tax: per rate at order level, spread across lines (and shipping last).
    line_tax = dict.fromkeys(remaining, 0)
    taxes: list[TaxLine] = []
    for rate in tax_rates:
        keys = [line.key for line in ordered]
        bases = [remaining[key] for key in keys]
        if rate.applies_to_shipping:
            bases.append(shipping_left)
        amount = percent_of(sum(bases), rate.basis_points)
        shares = allocate(amount, bases)
        for key, share in zip(keys, shares, strict=False):
            line_tax[key] += share
        taxes.append(TaxLine(rate.name, rate.basis_points, amount))
    tax = sum(t.amount_minor for t in taxes)

    by_key = {
        line.key: LineBreakdown(
            key=line.key,
            quantity=line.quantity,
            unit_price_minor=line.unit_price_minor,
            subtotal_minor=line.unit_price_minor * line.quantity,
            discount_minor=line.unit_price_minor * line.quantity - remaining[line.key],
            discounts=tuple(line_discounts[line.key]),
            tax_minor=line_tax[line.key],
        )
        for line in ordered
    }
    return Breakdown(
        currency=currency,
        lines=tuple(by_key[line.key] for line in lines),
        applied=tuple(applied),
        rejected=tuple(rejected),
        subtotal_minor=subtotal,
        discount_minor=discount,
        shipping_minor=shipping_minor,
        shipping_discount_minor=shipping_discount,
        taxes=tuple(taxes),
        tax_minor=tax,
        total_minor=subtotal - discount + shipping_left + tax,
    )
