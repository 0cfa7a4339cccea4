"""Beat's heartbeat: a periodic task stamps the time, /readyz checks its age.

The stamp is written by a worker running the task beat queued, so a fresh
stamp shows the whole clock works: beat ticks, the broker carries the task,
a worker runs it. It lives in the cache (Redis in production), which every
web process reads.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

HEARTBEAT_KEY = "core:beat_heartbeat"


def beat_heartbeat_record() -> float:
    """Store the current time as beat's last tick; return it (epoch seconds)."""
    now = timezone.now().timestamp()
    # Kept well past the staleness limit, so a stale stamp reads as stale
    # (with its age) rather than as never having ticked.
    cache.set(HEARTBEAT_KEY, now, timeout=7 * 24 * 60 * 60)
    return now


def beat_heartbeat_age() -> float | None:
    """Seconds since the last tick, or None when beat never ticked."""
    stamp = cache.get(HEARTBEAT_KEY)
    if stamp is None:
        return None
    return max(0.0, timezone.now().timestamp() - float(stamp))


def beat_heartbeat_problem() -> str | None:
    """Why beat looks stopped, or None when its last tick is recent enough."""
    limit = settings.BEAT_HEARTBEAT_MAX_AGE
    age = beat_heartbeat_age()
    if age is None:
        return "beat has not ticked yet (no heartbeat recorded)"
    if age > limit:
        return f"beat's last tick was {int(age)} s ago (limit {limit} s)"
    return None
