"""What a user's subscription unlocks now: one cached selector.

``entitlements_for(user)`` answers the plan's features and usage limits when
the user's subscription grants access (``Subscription.grants_access``), and
nothing otherwise. The answer is cached per user; ``access_changed`` (status,
plan or grace changes, after commit) drops it, and the entry carries the plan
catalogue's version (read with it in one round trip), so a staff edit of a
plan's features or limits reaches every cached user at once. A past_due
subscription loses access when its grace ends without any signal, so the
entry never outlives ``grace_until``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from apps.subscriptions import selectors
from apps.subscriptions.models import LIVE_STATUSES, Subscription

CACHE_TTL = 5 * 60


@dataclass(frozen=True, slots=True)
class Entitlements:
    granted: bool
    status: str | None = None
    plan_slug: str | None = None
    plan_name: str | None = None
    features: dict[str, Any] = field(default_factory=dict)
    # {metric: {"per_day": int | None, "per_month": int | None}}; None is
    # unlimited, a window that is absent is not limited either.
    limits: dict[str, dict[str, int | None]] = field(default_factory=dict)

    def has_feature(self, key: str) -> bool:
        """Whether the feature is on: a true boolean, a number > 0, any text."""
        value = self.features.get(key)
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float):
            return value > 0
        return bool(value)


NONE = Entitlements(granted=False)


def _cache_key(user_id: int) -> str:
    return f"subscriptions:entitlements:{user_id}"


def _build(user_id: int, now: datetime) -> tuple[Entitlements, int, datetime | None]:
    sub = (
        Subscription.objects.filter(user_id=user_id, status__in=LIVE_STATUSES)
        .select_related("price__plan")
        .first()
    )
    if sub is None:
        return NONE, CACHE_TTL, None
    ttl = CACHE_TTL
    # The answer changes when grace ends: the entry carries that moment and
    # is rebuilt from then on (the TTL alone would follow the cache's clock).
    valid_until = None
    if sub.grace_until is not None and sub.grace_until > now:
        valid_until = sub.grace_until
        ttl = max(1, min(ttl, int((sub.grace_until - now).total_seconds()) + 1))
    if not sub.grants_access(now):
        return Entitlements(granted=False, status=sub.status), ttl, valid_until
    plan = sub.price.plan
    return (
        Entitlements(
            granted=True,
            status=sub.status,
            plan_slug=plan.slug,
            plan_name=plan.name,
            features=dict(plan.features),
            limits={m: dict(w) for m, w in plan.limits.items()},
        ),
        ttl,
        valid_until,
    )


def entitlements_for(user: Any) -> Entitlements:
    """Return the features and limits the user's subscription grants now."""
    if user is None or not getattr(user, "is_authenticated", False):
        return NONE
    key = _cache_key(user.pk)
    now = timezone.now()
    # One round trip for both: the entry carries the catalogue version it was
    # built under, and an entry from another version is rebuilt.
    found = cache.get_many([selectors.VERSION_KEY, key])
    version = found.get(selectors.VERSION_KEY)
    if version is None:
        # Reading the version through the catalogue keeps one definition of it.
        selectors.catalogue()
        version = cache.get(selectors.VERSION_KEY)
    cached = found.get(key)
    if isinstance(cached, tuple) and len(cached) == 3:
        built_under, result, valid_until = cached
        if (
            built_under == version
            and isinstance(result, Entitlements)
            and (valid_until is None or now < valid_until)
        ):
            return result
    result, ttl, valid_until = _build(user.pk, now)
    cache.set(key, (version, result, valid_until), ttl)
    return result


def entitlements_invalidate(*, user_id: int) -> None:
    cache.delete(_cache_key(user_id))


def plan_with_feature(key: str) -> dict[str, str] | None:
    """A public plan that has the feature (the cheapest listed first), if any."""
    for plan in selectors.plans_public():
        value = plan["features"].get(key)
        if value is not None and value is not False and value != 0 and value != "":
            return {"slug": plan["slug"], "name": plan["name"]}
    return None
