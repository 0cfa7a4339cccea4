"""Version numbers that make a whole family of cached values stale at once.

A family's keys embed its current version; a change bumps the number, and
the old entries are simply never read again (they expire). The bump happens
now, so this process stops using the old values, and again after commit,
because another request may cache the old rows between the bump and the
commit.
"""

from __future__ import annotations

import time

from django.core.cache import cache
from django.db import transaction


def _fresh_version() -> int:
    # Never a small constant: a version key evicted and started again must
    # not meet an entry still cached under an old number.
    return time.time_ns() // 1_000  # microseconds: faster than any bumping


def cache_version(key: str) -> int:
    """The family's current version, started afresh when missing."""
    version = cache.get(key)
    if version is None:
        cache.add(key, _fresh_version(), timeout=None)
        version = cache.get(key, 0)
    return int(version)


def cache_version_bump(key: str) -> None:
    """Make every cached value of the family stale, now and after commit."""

    def bump() -> None:
        try:
            cache.incr(key)
        except ValueError:  # not set yet (or evicted): a new number will do
            cache.add(key, _fresh_version(), timeout=None)

    bump()
    transaction.on_commit(bump)
