"""Reads for the staff dashboard and API: stored daily rows, summed per period."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from django.db.models import (
    Avg,
    Count,
    Exists,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, Now

from apps.analytics.exceptions import AnalyticsPlanNotFound
from apps.analytics.models import (
    CohortMonth,
    DailyMetrics,
    DailySubscriptionSnapshot,
    ExchangeRate,
    MovementKind,
    MrrMovement,
)
from apps.analytics.mrr import round_half_up
from apps.analytics.services.snapshots import PAYING_STATUSES
from apps.analytics.services.sql import day_bounds
from apps.checkout.models import Order, OrderLine
from apps.core.money import currency_exponent
from apps.subscriptions.models import (
    Plan,
    Subscription,
    SubscriptionEvent,
    SubscriptionStatus,
)

K = MovementKind


def metrics_list(
    *, start: dt.date, end: dt.date, currency: str | None = None
) -> QuerySet[DailyMetrics]:
    rows = DailyMetrics.objects.filter(day__gte=start, day__lte=end)
    return rows.filter(currency=currency) if currency else rows


def currencies_list() -> list[str]:
    return list(
        DailyMetrics.objects.order_by("currency")
        .values_list("currency", flat=True)
        .distinct()
    )


def movements_by_day(
    *, start: dt.date, end: dt.date, currency: str | None = None, plan: str = ""
) -> list[dict[str, Any]]:
    """Per day and currency: each movement kind's signed sum and customers.

    With ``plan``, only customers whose snapshot that day (or the day before,
    for churn) was on the plan.
    """
    rows = _movements(start=start, end=end, currency=currency, plan=plan)
    grouped = rows.values("day", "currency", "kind").annotate(
        amount=Sum("amount_minor"), customers=Count("user_id")
    )
    out: dict[tuple[dt.date, str], dict[str, Any]] = {}
    for row in grouped.order_by("day", "currency", "kind"):
        key = (row["day"], row["currency"])
        entry = out.setdefault(
            key,
            {"day": row["day"], "currency": row["currency"], "net_minor": 0}
            | {f"{kind}_minor": 0 for kind in K.values},
        )
        entry[f"{row['kind']}_minor"] = row["amount"]
        entry["net_minor"] += row["amount"]
    return list(out.values())


def _movements(
    *, start: dt.date, end: dt.date, currency: str | None, plan: str
) -> QuerySet[MrrMovement]:
    rows = MrrMovement.objects.filter(day__gte=start, day__lte=end)
    if currency:
        rows = rows.filter(currency=currency)
    if plan:
        on_plan = DailySubscriptionSnapshot.objects.filter(
            plan__slug=plan, user_id=OuterRef("user_id")
        )
        # Churned customers have no row that day: their last one before it.
        rows = rows.filter(
            Exists(on_plan.filter(day=OuterRef("day")))
            | Q(kind=K.CHURN)
            & Exists(
                on_plan.filter(
                    day__lt=OuterRef("day"), day__gte=start - dt.timedelta(days=1)
                )
            )
        )
    return rows


def cohorts_list(*, currency: str | None = None) -> QuerySet[CohortMonth]:
    rows = CohortMonth.objects.all()
    return rows.filter(currency=currency) if currency else rows


def exchange_rate_get(
    *, currency: str, reporting_currency: str, on: dt.date
) -> ExchangeRate | None:
    """Return the latest stored rate on or before ``on`` (None when none)."""
    if currency == reporting_currency:
        return None
    return (
        ExchangeRate.objects.filter(
            currency=currency, reporting_currency=reporting_currency, day__lte=on
        )
        .order_by("-day")
        .first()
    )


@dataclass(frozen=True)
class Tile:
    key: str
    label: str
    value: int | None
    previous: int | None
    kind: str  # "money", "count", "bp" or "x100" (a ratio times 100)

    @property
    def scaled(self) -> Decimal | None:
        """Basis points as a percentage, or a ×100 ratio, for display only."""
        return None if self.value is None else Decimal(self.value).scaleb(-2)

    @property
    def change(self) -> int | None:
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous


def _ratio(numerator: int, denominator: int) -> int | None:
    return round_half_up(Fraction(numerator, denominator)) if denominator else None


def _period(start: dt.date, end: dt.date, currency: str) -> dict[str, int | None]:
    rows = metrics_list(start=start, end=end, currency=currency)
    sums = rows.aggregate(
        net_new=Coalesce(Sum("net_new_minor"), 0),
        churned=Coalesce(Sum("churned_customers"), 0),
        gmv=Coalesce(Sum("gmv_minor"), 0),
        net_revenue=Coalesce(Sum("net_revenue_minor"), 0),
        paid_orders=Coalesce(Sum("paid_orders"), 0),
        new=Coalesce(Sum("new_minor"), 0),
        reactivation=Coalesce(Sum("reactivation_minor"), 0),
        expansion=Coalesce(Sum("expansion_minor"), 0),
        contraction=Coalesce(Sum("contraction_minor"), 0),
        churn=Coalesce(Sum("churn_minor"), 0),
    )
    last = rows.order_by("-day").first()
    first = metrics_list(
        start=start - dt.timedelta(days=1),
        end=start - dt.timedelta(days=1),
        currency=currency,
    ).first()
    mrr = last.mrr_minor if last else 0
    customers = last.paying_customers if last else 0
    start_customers = first.paying_customers if first else 0
    start_mrr = first.mrr_minor if first else 0
    gained = sums["new"] + sums["reactivation"] + sums["expansion"]
    lost = -(sums["contraction"] + sums["churn"])
    regained = sums["expansion"] + sums["reactivation"]
    return {
        "mrr": mrr,
        "arr": mrr * 12,
        "net_new": sums["net_new"],
        "customers": customers,
        "churn_bp": _customer_churn_bp(start, end, currency, start_customers),
        "arpa": _ratio(mrr, customers),
        "gmv": sums["gmv"],
        "net_revenue": sums["net_revenue"],
        "aov": _ratio(sums["gmv"], sums["paid_orders"]),
        "at_risk": last.mrr_at_risk_minor if last else 0,
        "gross_mrr_churn_bp": _ratio(lost * 10_000, start_mrr),
        "net_mrr_churn_bp": _ratio((lost - regained) * 10_000, start_mrr),
        "quick_ratio_x100": _ratio(gained * 100, lost),
        "trial_conversion_bp": _trial_conversion_bp(start, end, currency),
    }


TRIAL_GRACE = dt.timedelta(days=7)


def _trial_conversion_bp(start: dt.date, end: dt.date, currency: str) -> int | None:
    """Trials that ended in the period and paid within 7 days ÷ trials that ended."""
    since, _ = day_bounds(start)
    _, until = day_bounds(end)
    ended = SubscriptionEvent.objects.filter(
        from_status=SubscriptionStatus.TRIALING,
        created_at__gte=since,
        created_at__lt=until,
        currency=currency,
    ).exclude(to_status=SubscriptionStatus.TRIALING)
    paid = SubscriptionEvent.objects.filter(
        subscription_id=OuterRef("subscription_id"),
        to_status__in=PAYING_STATUSES,
        amount_minor__gt=0,
        created_at__gte=OuterRef("created_at"),
        created_at__lte=OuterRef("created_at") + TRIAL_GRACE,
    )
    counts = ended.aggregate(
        ended=Count("subscription_id", distinct=True),
        converted=Count("subscription_id", distinct=True, filter=Q(Exists(paid))),
    )
    return _ratio(counts["converted"] * 10_000, counts["ended"])


def _customer_churn_bp(
    start: dt.date, end: dt.date, currency: str, start_customers: int
) -> int | None:
    """Churned customers who were paying at the start ÷ paying at the start.

    Customers who joined and left within the period are excluded from both.
    """
    paying_at_start = DailySubscriptionSnapshot.objects.filter(
        day=start - dt.timedelta(days=1), currency=currency, mrr_minor__gt=0
    ).values("user_id")
    churned = (
        MrrMovement.objects.filter(
            day__gte=start,
            day__lte=end,
            currency=currency,
            kind=K.CHURN,
            user_id__in=paying_at_start,
        )
        .values("user_id")
        .distinct()
        .count()
    )
    return _ratio(churned * 10_000, start_customers)


def _ltv(end: dt.date, currency: str, arpa: int | None) -> int | None:
    """ARPA ÷ the mean monthly customer churn of the 6 months before this one."""
    month = end.replace(day=1)
    rates: list[Fraction] = []
    for _ in range(6):
        previous_end = month - dt.timedelta(days=1)
        month_start = previous_end.replace(day=1)
        start_row = metrics_list(
            start=month_start - dt.timedelta(days=1),
            end=month_start - dt.timedelta(days=1),
            currency=currency,
        ).first()
        if start_row and start_row.paying_customers:
            bp = _customer_churn_bp(
                month_start, previous_end, currency, start_row.paying_customers
            )
            rates.append(Fraction(bp or 0, 10_000))
        month = month_start
    if arpa is None or not rates:
        return None
    mean = sum(rates, Fraction(0)) / len(rates)
    return round_half_up(Fraction(arpa) / mean) if mean else None


TILES = (
    ("mrr", "MRR", "money"),
    ("arr", "ARR", "money"),
    ("net_new", "Net new MRR", "money"),
    ("customers", "Paying customers", "count"),
    ("churn_bp", "Customer churn", "bp"),
    ("arpa", "ARPA", "money"),
    ("ltv", "LTV", "money"),
    ("gmv", "GMV", "money"),
    ("net_revenue", "Net revenue", "money"),
    ("aov", "AOV", "money"),
    ("at_risk", "MRR at risk", "money"),
    ("gross_mrr_churn_bp", "Gross MRR churn", "bp"),
    ("net_mrr_churn_bp", "Net MRR churn", "bp"),
    ("quick_ratio_x100", "Quick ratio", "x100"),
    ("trial_conversion_bp", "Trial conversion", "bp"),
)


def summary_tiles(*, start: dt.date, end: dt.date, currency: str) -> list[Tile]:
    """The dashboard's tiles, each against the previous period of equal length."""
    length = (end - start).days + 1
    previous_end = start - dt.timedelta(days=1)
    previous_start = previous_end - dt.timedelta(days=length - 1)
    now = _period(start, end, currency)
    before = _period(previous_start, previous_end, currency)
    now["ltv"] = _ltv(end, currency, now["arpa"])
    before["ltv"] = _ltv(previous_end, currency, before["arpa"])
    return [Tile(key, label, now[key], before[key], kind) for key, label, kind in TILES]


def plan_mix(*, day: dt.date, currency: str) -> list[dict[str, Any]]:
    rows = (
        DailySubscriptionSnapshot.objects.filter(day=day, currency=currency)
        .values(plan_slug=F("plan__slug"))
        .annotate(
            subscribers=Count("pk", filter=Q(mrr_minor__gt=0)), mrr=Sum("mrr_minor")
        )
        .order_by("-mrr", "plan_slug")
    )
    return [dict(row) for row in rows]


def plan_analytics(*, slug: str) -> dict[str, Any]:
    """Per-plan figures on the latest computed day. Raise NotFound for no plan."""
    plan = Plan.objects.filter(slug=slug).first()
    if plan is None:
        raise AnalyticsPlanNotFound("No such plan.")
    latest = DailySubscriptionSnapshot.objects.aggregate(d=Max("day"))["d"]
    snapshot = DailySubscriptionSnapshot.objects.filter(day=latest, plan=plan)
    by_status = dict(
        snapshot.values_list("status").annotate(n=Count("pk")).order_by("status")
    )
    mrr = {
        row["currency"]: row["mrr"]
        for row in snapshot.values("currency").annotate(mrr=Sum("mrr_minor"))
    }
    kinds: dict[str, int] = {}
    if latest is not None:
        moves = _movements(
            start=latest.replace(day=1), end=latest, currency=None, plan=slug
        )
        kinds = dict(moves.values_list("kind").annotate(n=Count("pk")).order_by("kind"))
    lifetime = Subscription.objects.filter(
        price__plan=plan, started_at__isnull=False
    ).aggregate(
        days=Avg(Coalesce(F("ended_at"), Now()) - F("started_at")),
    )["days"]
    return {
        "plan": plan.slug,
        "day": latest,
        "subscribers_by_status": by_status,
        "mrr": mrr,
        "new_this_month": kinds.get(K.NEW, 0) + kinds.get(K.REACTIVATION, 0),
        "churned_this_month": kinds.get(K.CHURN, 0),
        "average_lifetime_days": lifetime.days if lifetime else None,
        "limits": plan.limits,
    }


@dataclass(frozen=True)
class ConvertedLine:
    currency: str
    amount_minor: int
    rate: ExchangeRate | None  # None: the reporting currency itself
    converted_minor: int | None  # None: no stored rate, left out of the total


def mrr_in_reporting_currency(
    *, on: dt.date, reporting_currency: str
) -> tuple[list[ConvertedLine], int]:
    """Each currency's MRR on ``on`` converted with the latest stored rate.

    A currency without a rate is listed with no converted amount and left out
    of the total, never mixed in at some guessed rate. Conversion rounds once,
    half up, after adjusting for the currencies' decimal places.
    """
    lines = []
    total = 0
    for row in DailyMetrics.objects.filter(day=on).order_by("currency"):
        rate = exchange_rate_get(
            currency=row.currency, reporting_currency=reporting_currency, on=on
        )
        converted: int | None
        if row.currency == reporting_currency:
            converted = row.mrr_minor
        elif rate is None:
            converted = None
        else:
            shift = currency_exponent(reporting_currency) - currency_exponent(
                row.currency
            )
            exact = (
                Fraction(row.mrr_minor) * Fraction(rate.rate) * Fraction(10) ** shift
            )
            converted = round_half_up(exact)
        if converted is not None:
            total += converted
        lines.append(ConvertedLine(row.currency, row.mrr_minor, rate, converted))
    return lines, total


def _paid_lines(*, start: dt.date, end: dt.date, currency: str) -> QuerySet[OrderLine]:
    since, _ = day_bounds(start)
    _, until = day_bounds(end)
    return OrderLine.objects.filter(
        order__paid_at__gte=since, order__paid_at__lt=until, order__currency=currency
    )


def top_products(
    *, start: dt.date, end: dt.date, currency: str, limit: int = 10
) -> list[dict[str, Any]]:
    """Best sellers by line totals (discounts off, tax excluded) in the period."""
    rows = (
        _paid_lines(start=start, end=end, currency=currency)
        .values("sku", "title")
        .annotate(units=Sum("quantity"), revenue=Sum("total_minor"))
        .order_by("-revenue", "sku")[:limit]
    )
    return [dict(row) for row in rows]


def top_categories(
    *, start: dt.date, end: dt.date, currency: str, limit: int = 10
) -> list[dict[str, Any]]:
    rows = (
        _paid_lines(start=start, end=end, currency=currency)
        .values(category=Coalesce(F("variant__product__category__name"), Value("–")))
        .annotate(units=Sum("quantity"), revenue=Sum("total_minor"))
        .order_by("-revenue", "category")[:limit]
    )
    return [dict(row) for row in rows]


def discounts_by_coupon(
    *, start: dt.date, end: dt.date, currency: str
) -> list[dict[str, Any]]:
    """Discount given per coupon code on orders paid in the period.

    The codes are a JSON list on each order; the list is summed here rather
    than in SQL because SQLite and PostgreSQL unnest JSON differently, and
    only orders that used a coupon are read.
    """
    since, _ = day_bounds(start)
    _, until = day_bounds(end)
    totals: dict[str, list[int]] = {}
    orders = Order.objects.filter(
        paid_at__gte=since, paid_at__lt=until, currency=currency
    ).exclude(coupons=[])
    for coupons in orders.values_list("coupons", flat=True).iterator():
        for coupon in coupons or []:
            entry = totals.setdefault(str(coupon.get("code", "")), [0, 0])
            entry[0] += 1
            entry[1] += int(coupon.get("discount_minor", 0))
    return [
        {"code": code, "orders": n, "discount_minor": amount}
        for code, (n, amount) in sorted(totals.items(), key=lambda kv: -kv[1][1])
    ]
