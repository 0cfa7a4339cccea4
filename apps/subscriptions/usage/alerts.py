"""Usage alerts: one email at 80 % and one at 100 % of a limit, per window.

Called inside the recording transaction with the counter's value before and
after the increment; counters of a window only grow and writers are
serialised on the row, so exactly one increment crosses each threshold. The
notification's idempotency key names the window too, so even a replay can
never send a threshold's email twice within one window.
"""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from apps.core.notifications import notification_enqueue_template
from apps.subscriptions.usage.windows import Window

THRESHOLDS = (80, 100)


def threshold_reached(limit: int, percent: int) -> int:
    """The smallest count that is at least ``percent`` % of ``limit``."""
    return (limit * percent + 99) // 100


def usage_alert_if_crossed(
    *,
    user_id: int,
    email: str,
    metric: str,
    window: Window,
    limit: int,
    before: int,
    after: int,
) -> None:
    for percent in THRESHOLDS:
        mark = threshold_reached(limit, percent)
        if not (before < mark <= after):
            continue
        notification_enqueue_template(
            kind=f"subscriptions.usage_alert_{percent}",
            recipient=email,
            idempotency_key=(
                f"subscriptions.usage_alert:{user_id}:{metric}:{window.kind}:"
                f"{window.start:%Y-%m-%dT%H:%M}:{percent}"
            ),
            template_prefix="subscriptions/email/usage_alert",
            context={
                "percent": percent,
                "metric": metric,
                "limit": limit,
                "used": after,
                "window": window.kind,
                "window_label": "daily" if window.kind == "day" else "monthly",
                "resets_at": window.end,
                "url": settings.SITE_URL.rstrip("/") + reverse("subscriptions:account"),
            },
        )
