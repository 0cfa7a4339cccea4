"""Rebuild analytics for a date range: ``analytics_backfill --from 2026-01-01``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apps.analytics.services.jobs import range_compute


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"Not a date (YYYY-MM-DD): {value}") from exc


class Command(BaseCommand):
    help = "Recompute analytics rows day by day for a range, in chunks, with progress."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--from", dest="start", required=True, type=_date)
        parser.add_argument(
            "--to", dest="end", type=_date, help="Inclusive; default yesterday (UTC)."
        )
        parser.add_argument(
            "--chunk-days",
            type=int,
            default=31,
            help="Days per chunk; each day is its own transaction either way.",
        )

    def handle(self, *args: Any, start: dt.date, end: dt.date | None, **options: Any):
        end = end or timezone.now().date() - dt.timedelta(days=1)
        if end < start:
            raise CommandError("--to is before --from.")
        chunk = max(1, options["chunk_days"])
        total = (end - start).days + 1
        done = 0

        def progress(day: dt.date) -> None:
            nonlocal done
            done += 1
            width = 30
            filled = width * done // total
            bar = "#" * filled + "-" * (width - filled)
            self.stdout.write(f"\r[{bar}] {done}/{total} {day:%Y-%m-%d}", ending="")
            self.stdout.flush()

        chunk_start = start
        while chunk_start <= end:
            chunk_end = min(end, chunk_start + dt.timedelta(days=chunk - 1))
            range_compute(start=chunk_start, end=chunk_end, progress=progress)
            chunk_start = chunk_end + dt.timedelta(days=1)
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"Recomputed {total} days."))
