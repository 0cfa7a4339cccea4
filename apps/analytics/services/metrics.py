"""A day's DailyMetrics rows: grouped aggregates per currency, merged per currency."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from fractions import Fraction
from typing import Any

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Coalesce

from apps.analytics.models import (
    DailyMetrics,
    DailySubscriptionSnapshot,
    MovementKind,
    MrrMovement,
)
from apps.analytics.mrr import round_half_up
from apps.analytics.services.sql import day_bounds
from apps.billing.gateway.types import RefundStatus
from apps.billing.models import PaymentRefund
from apps.checkout.models import Checkout, Order, OrderLine
from apps.subscriptions.models import SubscriptionStatus

K = MovementKind


def metrics_write(*, day: dt.date) -> int:
    """Replace the day's DailyMetrics rows (one per currency seen that day)."""
    DailyMetrics.objects.filter(day=day).delete()
    figures: dict[str, dict[str, Any]] = defaultdict(dict)
    for currency, values in _subscription_figures(day).items():
        figures[currency].update(values)
    for currency, values in _commerce_figures(day).items():
        figures[currency].update(values)
    rows = []
    for currency, values in sorted(figures.items()):
        row = DailyMetrics(day=day, currency=currency, **values)
        row.net_new_minor = (
            row.new_minor
            + row.reactivation_minor
            + row.expansion_minor
            + row.contraction_minor
            + row.churn_minor
        )
        row.net_revenue_minor = row.gmv_minor - row.refunds_minor
        row.aov_minor = _ratio(row.gmv_minor, row.paid_orders)
        row.conversion_bp = _ratio(row.paid_orders * 10_000, row.checkouts_started)
        rows.append(row)
    DailyMetrics.objects.bulk_create(rows)
    return len(rows)


def _ratio(numerator: int, denominator: int) -> int:
    return round_half_up(Fraction(numerator, denominator)) if denominator else 0


def _subscription_figures(day: dt.date) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = defaultdict(dict)
    paying = Q(mrr_minor__gt=0)
    snapshot = (
        DailySubscriptionSnapshot.objects.filter(day=day)
        .values("currency")
        .annotate(
            mrr=Coalesce(Sum("mrr_minor"), 0),
            at_risk=Coalesce(
                Sum("mrr_minor", filter=Q(status=SubscriptionStatus.PAST_DUE)), 0
            ),
            scheduled=Coalesce(
                Sum("mrr_minor", filter=Q(cancel_at_period_end=True)), 0
            ),
            paying=Count("user_id", filter=paying, distinct=True),
            trialing=Count(
                "user_id", filter=Q(status=SubscriptionStatus.TRIALING), distinct=True
            ),
        )
    )
    for snap in snapshot:
        out[snap["currency"]].update(
            mrr_minor=snap["mrr"],
            mrr_at_risk_minor=snap["at_risk"],
            scheduled_churn_minor=snap["scheduled"],
            paying_customers=snap["paying"],
            trialing_customers=snap["trialing"],
        )
    moves = (
        MrrMovement.objects.filter(day=day)
        .values("currency", "kind")
        .annotate(total=Sum("amount_minor"), customers=Count("user_id"))
    )
    counts: dict[str, str] = {
        K.NEW: "new_customers",
        K.REACTIVATION: "reactivated_customers",
        K.CHURN: "churned_customers",
    }
    for move in moves:
        out[move["currency"]][f"{move['kind']}_minor"] = move["total"]
        if move["kind"] in counts:
            out[move["currency"]][counts[move["kind"]]] = move["customers"]
    return out


def _commerce_figures(day: dt.date) -> dict[str, dict[str, Any]]:
    start, end = day_bounds(day)
    out: dict[str, dict[str, Any]] = defaultdict(dict)
    created = (
        Order.objects.filter(created_at__gte=start, created_at__lt=end)
        .values("currency")
        .annotate(n=Count("pk"))
    )
    for made in created:
        out[made["currency"]]["orders"] = made["n"]
    paid = (
        Order.objects.filter(paid_at__gte=start, paid_at__lt=end)
        .values("currency")
        .annotate(
            n=Count("pk"),
            gmv=Sum("total_minor"),
            discounts=Sum(F("discount_minor") + F("shipping_discount_minor")),
            shipping=Sum(F("shipping_minor") - F("shipping_discount_minor")),
            tax=Sum("tax_minor"),
        )
    )
    for paid_row in paid:
        out[paid_row["currency"]].update(
            paid_orders=paid_row["n"],
            gmv_minor=paid_row["gmv"],
            discounts_minor=paid_row["discounts"],
            shipping_minor=paid_row["shipping"],
            tax_minor=paid_row["tax"],
        )
    units = (
        OrderLine.objects.filter(order__paid_at__gte=start, order__paid_at__lt=end)
        .values("order__currency")
        .annotate(n=Sum("quantity"))
    )
    for unit in units:
        out[unit["order__currency"]]["units"] = unit["n"]
    refunds = (
        PaymentRefund.objects.filter(
            created_at__gte=start,
            created_at__lt=end,
            status=RefundStatus.SUCCEEDED,
        )
        .values(currency=F("payment__currency"))
        .annotate(total=Sum("amount_minor"))
    )
    for refund in refunds:
        out[refund["currency"]]["refunds_minor"] = refund["total"]
    checkouts = (
        Checkout.objects.filter(created_at__gte=start, created_at__lt=end)
        .values(currency=F("cart__currency"))
        .annotate(n=Count("pk"))
    )
    for started in checkouts:
        out[started["currency"]]["checkouts_started"] = started["n"]
    return out
