"""What the VPN service asks about a key: is it good, for what, on how many.

Unknown and revoked keys get the same answer shape by the same work (one
hash, one indexed lookup that locks nothing it does not find), so the
answers do not tell a guessed key from a dead one by shape or time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.subscriptions.exceptions import SeatLimitReached
from apps.subscriptions.licence_models import LicenceDevice, LicenceKey
from apps.subscriptions.models import SubscriptionStatus
from apps.subscriptions.services.licences import licence_key_hash

_L = LicenceKey.Status


@dataclass(frozen=True, slots=True)
class Verification:
    status: str  # "valid", "suspended", "revoked" or "unknown"
    plan: str | None = None
    features: dict[str, Any] = field(default_factory=dict)
    expires_at: datetime | None = None
    seats_used: int | None = None
    seats_allowed: int | None = None


def _expiry(licence: LicenceKey) -> datetime | None:
    sub = licence.subscription
    if sub.grace_until and sub.status == SubscriptionStatus.PAST_DUE:
        return sub.grace_until
    return (
        sub.trial_end
        if sub.status == SubscriptionStatus.TRIALING
        else sub.current_period_end
    )


def _seats_used(licence: LicenceKey) -> int:
    return LicenceDevice.objects.filter(
        licence=licence, released_at__isnull=True
    ).count()


def licence_verify(*, key: str, device_id: str) -> Verification:
    """Answer for ``key`` on ``device_id``, taking a seat for a new device.

    The licence row is locked while seats are counted, so parallel verifies
    from new devices cannot take more seats than the key has.

    Raise SeatLimitReached when a new device finds every seat taken.
    """
    digest = licence_key_hash(key)
    with transaction.atomic():
        licence = (
            LicenceKey.objects.select_for_update(of=("self",))
            .select_related("subscription__price__plan")
            .filter(key_hash=digest)
            .exclude(status=_L.REVOKED)
            .first()
        )
        if licence is None:
            # One query for both: a revoked key is looked for exactly as an
            # unknown one, then told apart without touching another row.
            revoked = LicenceKey.objects.filter(
                key_hash=digest, status=_L.REVOKED
            ).exists()
            return Verification(status=_L.REVOKED if revoked else "unknown")
        plan = licence.subscription.price.plan
        answer: dict[str, Any] = {
            "plan": plan.slug,
            "features": dict(plan.features),
            "expires_at": _expiry(licence),
            "seats_allowed": licence.seats,
        }
        if licence.status == _L.SUSPENDED:
            return Verification(
                status=_L.SUSPENDED, seats_used=_seats_used(licence), **answer
            )
        now = timezone.now()
        seen = LicenceDevice.objects.filter(
            licence=licence, device_id=device_id, released_at__isnull=True
        ).update(last_seen_at=now)
        used = _seats_used(licence)
        if not seen:
            if used >= licence.seats:
                raise SeatLimitReached(used=used, allowed=licence.seats)
            LicenceDevice.objects.create(
                licence=licence, device_id=device_id, last_seen_at=now
            )
            used += 1
        return Verification(status="valid", seats_used=used, **answer)
