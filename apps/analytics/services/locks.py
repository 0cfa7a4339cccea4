"""Locks per computed day (and for cohorts): overlapping runs take turns."""

from __future__ import annotations

import datetime as dt

from django.db import connection

# The first key of PostgreSQL's two-int advisory lock keeps analytics' locks
# apart from any other advisory locks (160001: issue 16, lock family 1).
LOCK_NAMESPACE = 160_001


# Date ordinals start at 1, so 0 is free for the cohort rebuild's lock.
COHORTS_KEY = 0


def day_lock(day: dt.date) -> None:
    """Hold the day's lock until the surrounding transaction ends.

    PostgreSQL: a transaction-level advisory lock. SQLite: a no-op, because
    SQLite already lets one writer at a time hold the database.
    """
    _lock(day.toordinal())


def cohorts_lock() -> None:
    """Hold the cohort rebuild's lock until the surrounding transaction ends.

    Two runs replacing every cohort row at once would both insert.
    """
    _lock(COHORTS_KEY)


def _lock(key: int) -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, key])
