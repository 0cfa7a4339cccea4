"""Day-over-day MRR movements per customer and currency, from two snapshots."""

from __future__ import annotations

import datetime as dt

from django.db.models import (
    BigIntegerField,
    Case,
    CharField,
    DateField,
    Exists,
    F,
    OuterRef,
    Q,
    Sum,
    Value,
    When,
)

from apps.analytics.models import DailySubscriptionSnapshot, MovementKind, MrrMovement
from apps.analytics.services.snapshots import PAYING_STATUSES
from apps.analytics.services.sql import day_bounds, insert_select
from apps.subscriptions.models import SubscriptionEvent

K = MovementKind


def movements_write(*, day: dt.date) -> int:
    """Replace the day's movements from the snapshots of ``day`` and the day before.

    Both snapshots must be current; the job writes the previous one first
    when it starts a range.
    """
    previous = day - dt.timedelta(days=1)
    MrrMovement.objects.filter(day=day).delete()
    after = Sum(
        Case(When(day=day, then=F("mrr_minor")), default=Value(0)),
        output_field=BigIntegerField(),
    )
    before = Sum(
        Case(When(day=previous, then=F("mrr_minor")), default=Value(0)),
        output_field=BigIntegerField(),
    )
    rows = (
        DailySubscriptionSnapshot.objects.filter(day__in=[previous, day])
        .values("user_id", "currency")
        .annotate(
            m_before=before,
            m_after=after,
            m_day=Value(day, output_field=DateField()),
            m_user=F("user_id"),
            m_currency=F("currency"),
            m_kind=Case(
                When(Q(m_before=0), then=Value(K.NEW)),
                When(Q(m_after=0), then=Value(K.CHURN)),
                When(Q(m_after__gt=F("m_before")), then=Value(K.EXPANSION)),
                default=Value(K.CONTRACTION),
                output_field=CharField(),
            ),
            m_amount=F("m_after") - F("m_before"),
        )
        .exclude(m_after=F("m_before"))
    )
    count = insert_select(
        MrrMovement,
        {
            "mrr_before_minor": "m_before",
            "mrr_after_minor": "m_after",
            "day": "m_day",
            "user_id": "m_user",
            "currency": "m_currency",
            "kind": "m_kind",
            "amount_minor": "m_amount",
        },
        rows,
    )
    _reactivations_mark(day=day)
    return count


def _reactivations_mark(*, day: dt.date) -> None:
    """Turn "new" into "reactivation" for customers who paid before the day."""
    start, _ = day_bounds(day)
    paid_before = SubscriptionEvent.objects.filter(
        subscription__user_id=OuterRef("user_id"),
        created_at__lt=start,
        to_status__in=PAYING_STATUSES,
        amount_minor__gt=0,
    )
    MrrMovement.objects.filter(day=day, kind=K.NEW).filter(Exists(paid_before)).update(
        kind=K.REACTIVATION
    )
