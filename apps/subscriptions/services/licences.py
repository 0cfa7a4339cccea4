"""Licence keys: issued with a subscription, following its status.

``licence_follow_subscription`` is the one writer of a licence's status from
the subscription's (the ``access_changed`` receiver and the grace sweep call
it); rotation revokes a key for its owner. Keys are 128 random bits shown as
eight groups of four hex digits; only their sha256 is stored.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from apps.core.audit import audit_log
from apps.core.notifications import notification_enqueue_template
from apps.subscriptions.exceptions import LicenceNotFound
from apps.subscriptions.licence_models import (
    LICENCE_STATES,
    LicenceDevice,
    LicenceKey,
)
from apps.subscriptions.models import (
    GRANTING_STATUSES,
    Subscription,
    SubscriptionStatus,
)

if TYPE_CHECKING:
    from apps.accounts.models import User

KEY_BYTES = 16
GROUP = 4
DEFAULT_SEATS_FEATURE = "devices"
_S = SubscriptionStatus
_L = LicenceKey.Status
# A subscription in one of these has ended: its licence is revoked for good.
REVOKING = {_S.CANCELED, _S.INCOMPLETE_EXPIRED}


@dataclass(frozen=True, slots=True)
class IssuedLicence:
    licence: LicenceKey
    # The full key: returned once, never stored.
    key: str


def licence_key_generate() -> str:
    """Return a new key: 128 random bits as ``XXXX-XXXX-…`` (8 groups)."""
    raw = secrets.token_hex(KEY_BYTES).upper()
    return "-".join(raw[i : i + GROUP] for i in range(0, len(raw), GROUP))


def licence_key_normalise(key: str) -> str:
    return "".join(ch for ch in key.upper() if ch.isalnum())


def licence_key_hash(key: str) -> str:
    return hashlib.sha256(licence_key_normalise(key).encode()).hexdigest()


def licence_seats_for(sub: Subscription) -> int:
    """The plan feature naming how many devices a key may serve."""
    feature = getattr(settings, "LICENCE_SEATS_FEATURE", DEFAULT_SEATS_FEATURE)
    value: Any = sub.price.plan.features.get(feature)
    try:
        seats = int(value)
    except (TypeError, ValueError):
        seats = int(getattr(settings, "LICENCE_DEFAULT_SEATS", 1))
    return max(seats, 1)


def _audit(licence: LicenceKey, source: str, to: str, *, reason: str) -> None:
    audit_log(
        action=f"licence.{to}",
        obj=licence,
        data={"from": source, "to": to, "reason": reason},
    )


def _move(licence: LicenceKey, to: str, *, reason: str) -> bool:
    also = ["revoked_reason"] if to == _L.REVOKED else []
    if to == _L.REVOKED:
        licence.revoked_reason = reason[:100]
    return LICENCE_STATES.move(
        licence,
        to,
        also_update=also,
        event=lambda row, source, target: _audit(row, source, target, reason=reason),
    )


def _email_key(issued: IssuedLicence, *, template: str) -> None:
    licence = issued.licence
    notification_enqueue_template(
        kind=f"subscriptions.{template}",
        recipient=licence.user.email,
        idempotency_key=f"subscriptions.{template}:{licence.pk}",
        template_prefix=f"subscriptions/email/{template}",
        context={
            "licence": licence,
            "key": issued.key,
            "url": settings.SITE_URL.rstrip("/") + reverse("subscriptions:account"),
        },
    )


def _create(sub: Subscription, *, reason: str) -> IssuedLicence:
    key = licence_key_generate()
    licence = LicenceKey(
        user=sub.user,
        subscription=sub,
        key_hash=licence_key_hash(key),
        display_prefix=key[:GROUP],
        seats=licence_seats_for(sub),
    )
    licence.full_clean(validate_constraints=False)
    licence.save()
    _audit(licence, "", licence.status, reason=reason)
    return IssuedLicence(licence, key)


def licence_issue(
    *, subscription_id: int, email_key: bool = True
) -> IssuedLicence | None:
    """Issue the subscription's first licence; None when it already has one.

    With ``email_key`` the key is mailed to the subscriber in the same
    transaction (the guest flow mails it with its sign-in link instead).
    """
    try:
        with transaction.atomic():
            sub = (
                Subscription.objects.select_for_update()
                .select_related("price__plan", "user")
                .get(pk=subscription_id)
            )
            if sub.licences.exists() or sub.status not in GRANTING_STATUSES:
                return None
            issued = _create(sub, reason="subscription_started")
            if email_key:
                _email_key(issued, template="licence_issued")
            return issued
    except IntegrityError:  # a parallel issue won the constraint
        return None


def _target(sub: Subscription, now: Any) -> str | None:
    if sub.status in REVOKING:
        return _L.REVOKED
    if sub.grants_access(now):
        return _L.ACTIVE
    if sub.status == _S.INCOMPLETE:
        return None
    return _L.SUSPENDED


def licence_follow_subscription(
    *, subscription_id: int, reason: str, issue: bool = True
) -> list[LicenceKey]:
    """Move the subscription's licences to what its status grants now.

    Active while it grants access, suspended when past_due after grace or
    unpaid (or paused), revoked once it ended. A subscription that starts
    granting and never had a key gets one (``issue``). Return the live keys.
    """
    if issue:
        licence_issue(subscription_id=subscription_id)
    with transaction.atomic():
        sub = Subscription.objects.select_related("price__plan").get(pk=subscription_id)
        target = _target(sub, timezone.now())
        licences = list(
            LicenceKey.objects.select_for_update()
            .filter(subscription=sub)
            .exclude(status=_L.REVOKED)
            .order_by("pk")
        )
        seats = licence_seats_for(sub)
        for licence in licences:
            if target is not None:
                _move(licence, target, reason=reason)
            if licence.status != _L.REVOKED and licence.seats != seats:
                licence.seats = seats  # a plan change brings its device count
                licence.save(update_fields=["seats", "updated_at"])
    return [lic for lic in licences if lic.status != _L.REVOKED]


def licences_follow_grace_expiry(*, now: Any = None) -> int:
    """Suspend keys of past_due subscriptions whose grace ran out unnoticed.

    Grace ends by the clock, not by an event; beat runs this. Return how many
    subscriptions were looked at.
    """
    now = now or timezone.now()
    ids = list(
        Subscription.objects.filter(
            status=_S.PAST_DUE,
            grace_until__lte=now,
            licences__status=_L.ACTIVE,
        )
        .values_list("pk", flat=True)
        .distinct()[:500]
    )
    for pk in ids:
        licence_follow_subscription(
            subscription_id=pk, reason="grace_expired", issue=False
        )
    return len(ids)


def _own_licence(*, user: User, licence_id: int) -> LicenceKey:
    licence = (
        LicenceKey.objects.select_for_update()
        .select_related("subscription__price__plan", "user")
        .filter(pk=licence_id, user=user)
        .first()
    )
    if licence is None:
        raise LicenceNotFound(licence_id)
    return licence


@transaction.atomic
def licence_rotate(*, user: User, licence_id: int) -> IssuedLicence:
    """Revoke the key at once and issue its replacement (shown once).

    Raise LicenceNotFound (not the user's) or InvalidTransition (revoked).
    """
    licence = _own_licence(user=user, licence_id=licence_id)
    if licence.status == _L.REVOKED:
        LICENCE_STATES.check(_L.REVOKED, _L.ACTIVE)  # raises: revoked stays so
    status = licence.status
    _move(licence, _L.REVOKED, reason="rotated")
    issued = _create(licence.subscription, reason="rotation")
    if status != issued.licence.status:
        _move(issued.licence, status, reason="rotation")
    audit_log(
        action="licence.rotated",
        actor=user,
        obj=issued.licence,
        data={"replaces": licence.pk},
    )
    return issued


@transaction.atomic
def licence_device_release(*, user: User, licence_id: int, device_pk: int) -> None:
    """Free a device's seat. Raise LicenceNotFound when not the user's."""
    licence = _own_licence(user=user, licence_id=licence_id)
    released = LicenceDevice.objects.filter(
        licence=licence, pk=device_pk, released_at__isnull=True
    ).update(released_at=timezone.now())
    if released:
        audit_log(
            action="licence.device_released",
            actor=user,
            obj=licence,
            data={"device": device_pk},
        )
