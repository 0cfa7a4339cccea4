"""Reads of usage: the current windows per metric, and daily history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db.models import Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from apps.subscriptions.entitlements import Entitlements, entitlements_for
from apps.subscriptions.usage.models import UsageCounter, UsageEvent
from apps.subscriptions.usage.windows import (
    LIMIT_KEYS,
    current_windows,
    customer_timezone,
)

HISTORY_MAX_DAYS = 400


@dataclass(frozen=True, slots=True)
class WindowState:
    metric: str
    window: str
    used: int
    limit: int | None
    resets_at: datetime


def usage_current(
    *, user: Any, entitlements: Entitlements | None = None, now: datetime | None = None
) -> list[WindowState]:
    """The day and month windows of every metric the plan meters (1 query)."""
    now = now or timezone.now()
    ent = entitlements or entitlements_for(user)
    windows = current_windows(now, customer_timezone(user))
    used = {
        (c.metric, c.window_kind, c.window_start): c.used
        for c in UsageCounter.objects.filter(
            user=user,
            metric__in=list(ent.limits),
            window_start__in=[w.start for w in windows],
        )
    }
    return [
        WindowState(
            metric=metric,
            window=w.kind,
            used=used.get((metric, w.kind, w.start), 0),
            limit=ent.limits[metric].get(LIMIT_KEYS[w.kind]),
            resets_at=w.end,
        )
        for metric in sorted(ent.limits)
        for w in windows
    ]


def usage_history(
    *, user: Any, metric: str | None, date_from: date, date_to: date
) -> list[dict[str, Any]]:
    """Daily sums of accepted usage per metric, oldest first (days with none
    are left out). Days are the customer's (see ``customer_timezone``)."""
    tz = customer_timezone(user)
    start = datetime.combine(date_from, datetime.min.time(), tzinfo=tz)
    end = datetime.combine(date_to + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    events = UsageEvent.objects.filter(
        user=user, created_at__gte=start, created_at__lt=end
    )
    if metric:
        events = events.filter(metric=metric)
    rows = (
        events.annotate(day=TruncDate("created_at", tzinfo=tz))
        .values("day", "metric")
        .annotate(quantity=Sum("quantity"))
        .order_by("day", "metric")
    )
    return [
        {"date": r["day"], "metric": r["metric"], "quantity": r["quantity"]}
        for r in rows
    ]


def usage_last_days(
    *, user: Any, days: int = 30, now: datetime | None = None
) -> list[dict[str, Any]]:
    """One entry per metric: its daily totals over the last ``days`` days,
    zero-filled, for staff's chart."""
    now = now or timezone.now()
    today = now.astimezone(customer_timezone(user)).date()
    first = today - timedelta(days=days - 1)
    rows = usage_history(user=user, metric=None, date_from=first, date_to=today)
    by_metric: dict[str, dict[date, int]] = {}
    for row in rows:
        by_metric.setdefault(row["metric"], {})[row["date"]] = row["quantity"]
    out = []
    for metric in sorted(by_metric):
        series = [
            (
                first + timedelta(days=i),
                by_metric[metric].get(first + timedelta(days=i), 0),
            )
            for i in range(days)
        ]
        out.append(
            {
                "metric": metric,
                "days": series,
                "total": sum(q for _, q in series),
                "peak": max(q for _, q in series),
            }
        )
    return out


def history_bounds(
    date_from: date | None, date_to: date | None, *, now: datetime | None = None
) -> tuple[date, date]:
    """Default to the last 30 days; clamp to ``HISTORY_MAX_DAYS``."""
    today = (now or timezone.now()).astimezone(UTC).date()
    date_to = date_to or today
    date_from = date_from or date_to - timedelta(days=29)
    if date_from > date_to:
        date_from, date_to = date_to, date_from
    if (date_to - date_from).days >= HISTORY_MAX_DAYS:
        date_from = date_to - timedelta(days=HISTORY_MAX_DAYS - 1)
    return date_from, date_to
