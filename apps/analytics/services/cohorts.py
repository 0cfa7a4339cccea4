"""Monthly cohorts by month of first payment, measured on month-end snapshots."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Count, DateField, OuterRef, Subquery, Sum
from django.db.models.functions import TruncMonth

from apps.analytics.models import (
    CohortMonth,
    DailySubscriptionSnapshot,
    MovementKind,
    MrrMovement,
)
from apps.analytics.services.locks import cohorts_lock
from apps.analytics.services.sql import job_settings_apply


def _month_add(month: dt.date, k: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + k
    return dt.date(index // 12, index % 12 + 1, 1)


@transaction.atomic
def cohorts_write(*, through: dt.date) -> int:
    """Replace every cohort row, measuring each month at its last computed day."""
    cohorts_lock()
    job_settings_apply()
    CohortMonth.objects.all().delete()
    firsts = MrrMovement.objects.filter(kind=MovementKind.NEW, day__lte=through)
    starts = (
        firsts.annotate(month=TruncMonth("day", output_field=DateField()))
        .values("month", "currency")
        .annotate(customers=Count("user_id", distinct=True), mrr=Sum("amount_minor"))
    )
    start_of = {(r["month"], r["currency"]): r for r in starts}
    if not start_of:
        return 0
    first_day = Subquery(
        firsts.filter(user_id=OuterRef("user_id"), currency=OuterRef("currency"))
        .order_by("day")
        .values("day")[:1],
        output_field=DateField(),
    )
    retained: dict[tuple[dt.date, str, int], tuple[int, int, dt.date]] = {}
    month = min(m for m, _ in start_of)
    last_month = through.replace(day=1)
    while month <= last_month:
        measured = min(_month_add(month, 1) - dt.timedelta(days=1), through)
        rows = (
            DailySubscriptionSnapshot.objects.filter(day=measured, mrr_minor__gt=0)
            .annotate(cohort=TruncMonth(first_day, output_field=DateField()))
            .exclude(cohort=None)
            .values("cohort", "currency")
            .annotate(customers=Count("user_id", distinct=True), mrr=Sum("mrr_minor"))
        )
        for row in rows:
            cohort = row["cohort"]
            k = (month.year - cohort.year) * 12 + month.month - cohort.month
            retained[(cohort, row["currency"], k)] = (
                row["customers"],
                row["mrr"],
                measured,
            )
        month = _month_add(month, 1)
    out = []
    for (cohort, currency), start in start_of.items():
        k = 0
        while _month_add(cohort, k) <= last_month:
            customers, mrr, measured = retained.get(
                (cohort, currency, k),
                (0, 0, min(_month_add(cohort, k + 1) - dt.timedelta(days=1), through)),
            )
            out.append(
                CohortMonth(
                    cohort_month=cohort,
                    currency=currency,
                    months_since=k,
                    customers_start=start["customers"],
                    mrr_start_minor=start["mrr"],
                    customers_retained=customers,
                    mrr_retained_minor=mrr,
                    measured_on=measured,
                )
            )
            k += 1
    CohortMonth.objects.bulk_create(out)
    return len(out)
