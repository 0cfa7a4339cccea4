"""Usage windows: a day or a month in the customer's timezone.

The User model has no timezone field yet, so every customer's windows are
UTC; ``customer_timezone`` is the one place to read such a field later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from apps.subscriptions.usage.models import UsageWindow

# The plan's limits JSON names windows this way (services.plans.LIMIT_WINDOWS).
LIMIT_KEYS: dict[str, str] = {
    UsageWindow.DAY: "per_day",
    UsageWindow.MONTH: "per_month",
}


@dataclass(frozen=True, slots=True)
class Window:
    kind: str
    start: datetime
    end: datetime  # the reset time

    def retry_after(self, now: datetime) -> int:
        return max(1, int((self.end - now).total_seconds() + 0.999))


def customer_timezone(user: Any) -> tzinfo:
    return UTC


def day_window(now: datetime, tz: tzinfo) -> Window:
    local = now.astimezone(tz)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    # Via the date, not +24 h: a DST day is 23 or 25 hours long.
    nxt = (start + timedelta(days=1, hours=2)).replace(hour=0)
    return Window(UsageWindow.DAY, start.astimezone(UTC), nxt.astimezone(UTC))


def month_window(now: datetime, tz: tzinfo) -> Window:
    local = now.astimezone(tz)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    nxt = (start + timedelta(days=32)).replace(day=1)
    return Window(UsageWindow.MONTH, start.astimezone(UTC), nxt.astimezone(UTC))


def current_windows(now: datetime, tz: tzinfo) -> tuple[Window, Window]:
    """The day and the month windows containing ``now``, day first.

    Every writer takes the counters in this order, so two requests never
    wait on each other's rows crosswise.
    """
    return day_window(now, tz), month_window(now, tz)
