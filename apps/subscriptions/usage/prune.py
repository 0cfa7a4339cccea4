"""Keep 13 months of raw usage: older events and counters are deleted."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from apps.subscriptions.usage.models import UsageCounter, UsageEvent

KEEP_MONTHS = 13
# Deleting in slices keeps each statement's locks and WAL small.
SLICE = 10_000


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time ``months`` earlier (the month's last day if short)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    for day in range(moment.day, 27, -1):
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    return moment.replace(year=year, month=month, day=min(moment.day, 28))


def usage_prune(*, now: datetime | None = None) -> int:
    """Delete usage events and counters older than 13 months; return events gone."""
    cutoff = months_before(now or timezone.now(), KEEP_MONTHS)
    deleted = 0
    while True:
        ids = list(
            UsageEvent.objects.filter(created_at__lt=cutoff).values_list(
                "pk", flat=True
            )[:SLICE]
        )
        if not ids:
            break
        deleted += UsageEvent.objects.filter(pk__in=ids).delete()[0]
    UsageCounter.objects.filter(window_start__lt=cutoff).delete()
    return deleted
