"""A day's subscription snapshot, rebuilt from our own event history in SQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import (
    BigIntegerField,
    BooleanField,
    Case,
    DateField,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce

from apps.analytics.models import DailySubscriptionSnapshot
from apps.analytics.mrr import sql_mrr_expression
from apps.analytics.services.sql import day_bounds, insert_select
from apps.subscriptions.models import (
    LIVE_STATUSES,
    PlanPrice,
    Subscription,
    SubscriptionEvent,
    SubscriptionStatus,
)

# The statuses whose subscriptions count towards MRR (DEFINITIONS.md).
PAYING_STATUSES = (SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE)


def _json_int(key: str) -> Cast:
    return Cast(KeyTextTransform(key, "details"), BigIntegerField())


def snapshot_write(*, day: dt.date) -> int:
    """Replace the day's snapshot rows; return how many live subscriptions."""
    DailySubscriptionSnapshot.objects.filter(day=day).delete()
    count = _snapshot_insert(day=day, subscriptions=Subscription.objects.all())
    _price_fill(day=day)
    return count


def snapshot_carry_forward(*, day: dt.date) -> int:
    """Write the day's snapshot from the day before's, which must be current.

    A subscription's row depends only on the subscription and on which of its
    events fall before the day's end. A subscription created before the day
    with no event during it therefore has yesterday's row unchanged: copy
    those rows in one statement and recompute only the subscriptions created
    or changed during the day. The result equals ``snapshot_write``'s (a test
    compares them day by day); a backfill spends most of its time here, and
    a day's changes are a tiny part of all subscriptions.
    """
    start, end = day_bounds(day)
    previous = day - dt.timedelta(days=1)
    DailySubscriptionSnapshot.objects.filter(day=day).delete()
    changed = Subscription.objects.filter(
        Q(created_at__gte=start, created_at__lt=end)
        | Q(
            pk__in=SubscriptionEvent.objects.filter(
                created_at__gte=start, created_at__lt=end
            ).values("subscription_id")
        )
    ).values("pk")
    carried = (
        DailySubscriptionSnapshot.objects.filter(day=previous)
        .exclude(subscription_id__in=changed)
        .annotate(c_day=Value(day, output_field=DateField()))
    )
    count = insert_select(
        DailySubscriptionSnapshot,
        {
            # Model fields first, then the annotation: the order values() selects.
            "subscription_id": "subscription_id",
            "user_id": "user_id",
            "price_id": "price_id",
            "plan_id": "plan_id",
            "currency": "currency",
            "status": "status",
            "cancel_at_period_end": "cancel_at_period_end",
            "mrr_minor": "mrr_minor",
            "day": "c_day",
        },
        carried,
    )
    count += _snapshot_insert(
        day=day, subscriptions=Subscription.objects.filter(pk__in=changed)
    )
    _price_fill(day=day, subscriptions=changed)
    return count


def _snapshot_insert(*, day: dt.date, subscriptions: QuerySet[Subscription]) -> int:
    """Insert the day's rows of ``subscriptions`` (plan and MRR still unset)."""
    _, end = day_bounds(day)
    before = SubscriptionEvent.objects.filter(
        subscription=OuterRef("pk"), created_at__lt=end
    ).order_by("-created_at", "-pk")
    after = SubscriptionEvent.objects.filter(
        subscription=OuterRef("pk"), created_at__gte=end
    ).order_by("created_at", "pk")
    rows = (
        subscriptions.filter(created_at__lt=end)
        .annotate(
            s_day=Value(day, output_field=DateField()),
            s_subscription=F("pk"),
            s_user=F("user_id"),
            s_price=Coalesce(
                Subquery(
                    before.filter(details__has_key="to_price").values(
                        v=_json_int("to_price")
                    )[:1]
                ),
                Subquery(
                    after.filter(details__has_key="from_price").values(
                        v=_json_int("from_price")
                    )[:1]
                ),
                F("price_id"),
                output_field=BigIntegerField(),
            ),
            s_currency=Subquery(before.values("currency")[:1]),
            s_status=Subquery(before.values("to_status")[:1]),
            s_cancel=Coalesce(
                Subquery(
                    before.filter(details__has_key="cancel_at_period_end").values(
                        v=Case(
                            When(details__cancel_at_period_end=True, then=True),
                            default=False,
                            output_field=BooleanField(),
                        )
                    )[:1]
                ),
                Value(False),
                output_field=BooleanField(),
            ),
            s_mrr=Value(0, output_field=BigIntegerField()),
        )
        .filter(s_status__in=LIVE_STATUSES)
    )
    return insert_select(
        DailySubscriptionSnapshot,
        {
            "day": "s_day",
            "subscription_id": "s_subscription",
            "user_id": "s_user",
            "price_id": "s_price",
            "currency": "s_currency",
            "status": "s_status",
            "cancel_at_period_end": "s_cancel",
            "mrr_minor": "s_mrr",
        },
        rows,
    )


def _price_fill(
    *, day: dt.date, subscriptions: QuerySet[Subscription, Any] | None = None
) -> None:
    """Set plan, currency and MRR from each row's price in one UPDATE."""
    price = PlanPrice.objects.filter(pk=OuterRef("price_id"))
    mrr = price.annotate(
        m=sql_mrr_expression(
            amount=F("amount_minor"),
            interval_field="interval",
            interval_count=F("interval_count"),
        )
    ).values("m")[:1]
    rows = DailySubscriptionSnapshot.objects.filter(day=day)
    if subscriptions is not None:
        rows = rows.filter(subscription_id__in=subscriptions)
    rows.update(
        plan_id=Subquery(price.values("plan_id")[:1]),
        currency=Coalesce(Subquery(price.values("currency")[:1]), F("currency")),
        mrr_minor=Case(
            When(status__in=PAYING_STATUSES, then=Subquery(mrr)),
            default=Value(0),
            output_field=BigIntegerField(),
        ),
    )
