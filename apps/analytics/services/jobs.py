"""The nightly job and the backfill: each day in its own locked transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.analytics.models import ComputedDay
from apps.analytics.services.cohorts import cohorts_write
from apps.analytics.services.locks import day_lock
from apps.analytics.services.metrics import metrics_write
from apps.analytics.services.movements import movements_write
from apps.analytics.services.snapshots import (
    snapshot_carry_forward,
    snapshot_write,
)
from apps.analytics.services.sql import job_settings_apply


def day_compute(
    *, day: dt.date, previous_snapshot: bool = False, carry_forward: bool = False
) -> None:
    """Replace every row of ``day`` in one transaction under the day's lock.

    ``previous_snapshot`` rewrites the day before's snapshot first (the first
    day of a range, whose movements compare against it). ``carry_forward``
    builds the snapshot from the day before's, which the caller has just
    written (the rest of a range). Locks are taken in date order, so
    overlapping runs wait for each other and never deadlock.
    """
    previous = day - dt.timedelta(days=1)
    with transaction.atomic():
        job_settings_apply()
        if previous_snapshot:
            day_lock(previous)
        day_lock(day)
        if previous_snapshot:
            snapshot_write(day=previous)
        if carry_forward:
            snapshot_carry_forward(day=day)
        else:
            snapshot_write(day=day)
        movements_write(day=day)
        metrics_write(day=day)
        ComputedDay.objects.update_or_create(
            day=day, defaults={"computed_at": timezone.now()}
        )


def range_compute(
    *,
    start: dt.date,
    end: dt.date,
    progress: Callable[[dt.date], None] | None = None,
) -> int:
    """Recompute ``start``..``end`` inclusive, oldest first; return days computed.

    Then rebuild the cohorts, which read month-end snapshots of any day.
    """
    day = start
    count = 0
    while day <= end:
        day_compute(day=day, previous_snapshot=day == start, carry_forward=day != start)
        count += 1
        if progress is not None:
            progress(day)
        day += dt.timedelta(days=1)
    cohorts_write(through=end)
    return count


def nightly_run(*, today: dt.date | None = None) -> int:
    """Recompute the last N days up to yesterday (late webhooks change history)."""
    today = today or timezone.now().date()
    days = settings.ANALYTICS_RECOMPUTE_DAYS
    end = today - dt.timedelta(days=1)
    return range_compute(start=end - dt.timedelta(days=days - 1), end=end)
