"""The Redis cache, failing open: an outage costs throttling, not sign-in.

Everything the shop keeps in the cache can be lost: rate-limit counters
(ours and allauth's), and cached_db sessions, which fall back to the
database. So when Redis is unreachable a read is a miss and a write is
dropped instead of a 500; a warning is logged at most once per interval,
and /readyz (which writes and reads a value back) answers 503.
"""

from __future__ import annotations

from typing import Any

from django_redis.cache import RedisCache


class _OutageLog:
    """Stands in for django-redis's logger: one warning per interval."""

    def exception(self, message: str, *args: Any, **kwargs: Any) -> None:
        import sys

        from apps.core.ratelimit import warn_unavailable

        warn_unavailable("Redis cache", sys.exc_info()[1])


class FailOpenRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._ignore_exceptions = True
        self._log_ignored_exceptions = True
        self.logger = _OutageLog()

    def add(self, *args: Any, **kwargs: Any) -> bool:
        """An add that could not reach Redis counts as done (None → True).

        allauth's rate limiter takes a lock with `add` and, when it never
        gets it, refuses the request after a second's wait: sign-in would
        fail closed. Nothing is stored while Redis is down, so there is
        nothing for the lock to protect.
        """
        added = super().add(*args, **kwargs)
        return True if added is None else bool(added)
