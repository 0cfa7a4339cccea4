"""A day's subscription snapshot, rebuilt from our own event history in SQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import (
    BigIntegerField,
    BooleanField,
    Case,
    CharField,
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
from django.db.models.functions import (
    Cast,
    Coalesce,
    Concat,
    ExtractDay,
    ExtractMonth,
    ExtractYear,
    Substr,
)

from apps.analytics.models import DailySubscriptionSnapshot
from apps.analytics.mrr import add_months, sql_mrr_expression
from apps.analytics.services.sql import day_bounds, insert_select
from apps.coupons.models import Coupon, CouponRedemption
from apps.coupons.services.subscription import SUBSCRIPTION_REF_PREFIX
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

    A subscription's row depends only on the subscription, on which of its
    events fall before the day's end and on the discount in force then. A
    subscription created before the day with no event during it, no coupon
    redeemed during it and no repeating discount running out on it therefore
    has yesterday's row unchanged: copy those rows in one statement and
    recompute only the subscriptions created or changed during the day. The
    result equals ``snapshot_write``'s (a test compares them day by day); a
    backfill spends most of its time here, and a day's changes are a tiny
    part of all subscriptions.
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
        | Q(pk__in=_discount_changed(day=day))
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
    """Set plan, currency and MRR from each row's price in one UPDATE.

    The MRR takes off the subscription's discount in force on the day.
    """
    price = PlanPrice.objects.filter(pk=OuterRef("price_id"))
    percent_off, amount_off = _discount_in_force(
        day=day, subscription_id=OuterRef(OuterRef("subscription_id"))
    )
    mrr = price.annotate(
        m=sql_mrr_expression(
            amount=F("amount_minor"),
            interval_field="interval",
            interval_count=F("interval_count"),
            percent_off_bp=percent_off,
            amount_off_minor=amount_off,
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


def _discount_in_force(
    *, day: dt.date, subscription_id: OuterRef
) -> tuple[Coalesce, Coalesce]:
    """Return (percent off in basis points, amount off per invoice) in force.

    The discount is the subscription's latest coupon redemption before the
    day's end: a new coupon replaces the one before, whatever its duration
    (released uses are deleted rows). ``forever`` is in force; ``repeating``
    while the day is before the redemption's UTC date + N months (clamped to
    the month's end, ``mrr.add_months``); ``once`` never. The month arithmetic
    is on year/month/day numbers against the day's, the same on SQLite and
    PostgreSQL: with k = the month index of that expiry date and K the day's,
    it is in force when k > K, or k = K and the day is before the expiry day,
    min(redemption day, the month's last day). One indexed lookup per row
    (``coupons_redemption_ref_at``).
    """
    _, end = day_bounds(day)
    day_month = day.year * 12 + day.month - 1
    last_day = add_months(day.replace(day=1), 1) - dt.timedelta(days=1)
    repeating = Q(coupon__duration=Coupon.Duration.REPEATING)
    in_force = Q(coupon__duration=Coupon.Duration.FOREVER) | (
        repeating & Q(r_expiry_month__gt=day_month)
    )
    if day < last_day:
        in_force |= repeating & Q(r_expiry_month=day_month, r_day__gt=day.day)
    latest = (
        CouponRedemption.objects.filter(
            order_ref=Concat(
                Value(SUBSCRIPTION_REF_PREFIX),
                Cast(subscription_id, CharField()),
                output_field=CharField(),
            ),
            target=CouponRedemption.Target.SUBSCRIPTION,
            created_at__lt=end,
        )
        .annotate(
            r_expiry_month=ExtractYear("created_at", tzinfo=dt.UTC) * 12
            + ExtractMonth("created_at", tzinfo=dt.UTC)
            - 1
            + F("coupon__duration_in_months"),
            r_day=ExtractDay("created_at", tzinfo=dt.UTC),
        )
        .order_by("-created_at", "-pk")
    )

    def off(kind: str) -> Coalesce:
        value = Case(
            When(in_force & Q(coupon__kind=kind), then=F("coupon__value")),
            default=Value(0),
            output_field=BigIntegerField(),
        )
        return Coalesce(
            Subquery(latest.values(v=value)[:1]),
            Value(0),
            output_field=BigIntegerField(),
        )

    return off(Coupon.Kind.PERCENTAGE), off(Coupon.Kind.FIXED_AMOUNT)


def _discount_changed(*, day: dt.date) -> QuerySet[CouponRedemption, Any]:
    """Ids of subscriptions whose discount may change during ``day``.

    A coupon redeemed during the day, or a repeating one redeemed on a date
    whose N months run out on the day: per distinct N (a handful), that is a
    range of redemption dates, read on the ``created_at`` index rather than a
    scan of every redemption.
    """
    start, end = day_bounds(day)
    during = Q(created_at__gte=start, created_at__lt=end)
    months_list = (
        Coupon.objects.filter(duration=Coupon.Duration.REPEATING)
        .order_by()
        .values_list("duration_in_months", flat=True)
        .distinct()
    )
    for months in months_list:
        if months is None:  # a repeating coupon always has months (constraint)
            continue
        redeemed_on = _redeemed_on_running_out(day=day, months=months)
        if redeemed_on:
            during |= Q(
                coupon__duration_in_months=months,
                created_at__gte=day_bounds(redeemed_on[0])[0],
                created_at__lt=day_bounds(redeemed_on[-1])[1],
            )
    return (
        CouponRedemption.objects.filter(
            during,
            target=CouponRedemption.Target.SUBSCRIPTION,
            order_ref__startswith=SUBSCRIPTION_REF_PREFIX,
        )
        .annotate(
            r_subscription=Cast(
                Substr("order_ref", len(SUBSCRIPTION_REF_PREFIX) + 1),
                BigIntegerField(),
            )
        )
        .values("r_subscription")
    )


def _redeemed_on_running_out(*, day: dt.date, months: int) -> list[dt.date]:
    """The redemption dates whose ``months`` run out on ``day``, oldest first.

    One date, several at a month's end (Jan 28–31 + 1 month = Feb 28 in 2026),
    or none (nothing + 1 month is Mar 31 when February is shorter).
    """
    first = add_months(day.replace(day=1), -months)
    month_days = (first + dt.timedelta(days=n) for n in range(31))
    return [
        date
        for date in month_days
        if date.month == first.month and add_months(date, months) == day
    ]
