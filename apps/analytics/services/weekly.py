"""The weekly summary email to staff: last week's key figures and the change."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from apps.analytics import selectors
from apps.core.notifications import notification_enqueue_template


@transaction.atomic
def weekly_summary_send(*, today: dt.date | None = None) -> int:
    """Email every active staff member last week's figures (Monday to Sunday).

    Each email's idempotency key names the week and the recipient, so a rerun
    of the beat task sends nothing twice. Return how many were enqueued.
    """
    today = today or timezone.now().date()
    week_end = today - dt.timedelta(days=today.weekday() + 1)  # last Sunday
    week_start = week_end - dt.timedelta(days=6)
    currencies = [
        (
            currency,
            selectors.summary_tiles(start=week_start, end=week_end, currency=currency),
        )
        for currency in selectors.currencies_list()
    ]
    context = {
        "week_start": week_start,
        "week_end": week_end,
        "currencies": currencies,
        "dashboard_url": settings.SITE_URL.rstrip("/") + reverse("analytics:dashboard"),
    }
    staff = get_user_model().objects.filter(is_staff=True, is_active=True)
    count = 0
    for user in staff.order_by("pk").only("pk", "email"):
        notification_enqueue_template(
            kind="analytics_weekly_summary",
            recipient=user.email,
            idempotency_key=f"analytics-weekly:{week_start:%Y-%m-%d}:{user.pk}",
            template_prefix="analytics/email/weekly_summary",
            context=context,
        )
        count += 1
    return count
