"""Our Subscription rows follow Stripe: fetch, then upsert (never the event body).

``subscription_apply`` is the one writer of Stripe's fields. It locks the
row, changes only what differs, and writes a history row only for a real
change, so a replayed or reordered webhook, the return from confirmation and
reconciliation all converge on the same state through the same code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from apps.billing.gateway import subscriptions as gw
from apps.coupons.services import subscription as coupon_services
from apps.subscriptions.models import (
    SUBSCRIPTION_STATES,
    PlanPrice,
    Subscription,
    SubscriptionEvent,
    SubscriptionStatus,
)
from apps.subscriptions.services import effects

if TYPE_CHECKING:
    from apps.billing.gateway.subscriptions import SubscriptionSnapshot

MIRRORED = (
    "current_period_start",
    "current_period_end",
    "cancel_at_period_end",
    "trial_end",
    "canceled_at",
    "default_payment_method",
)


def _event(
    sub: Subscription, source: str, to: str, reason: str, actor: str, details: dict
) -> SubscriptionEvent:
    return SubscriptionEvent.objects.create(
        subscription=sub,
        from_status=source,
        to_status=to,
        reason=reason,
        actor=actor,
        amount_minor=sub.price.amount_minor,
        currency=sub.price.currency,
        details=details,
    )


def subscription_apply(
    *, subscription_id: int, snap: SubscriptionSnapshot, reason: str, actor: str
) -> Subscription:
    """Make our row match Stripe's snapshot; return it (history on change only)."""
    with transaction.atomic():
        sub = (
            Subscription.objects.select_for_update()
            .select_related("price__plan", "user")
            .get(pk=subscription_id)
        )
        changed: list[str] = []
        details: dict[str, Any] = {}
        if sub.stripe_id != snap.id:
            sub.stripe_id = snap.id
            changed.append("stripe_id")
        for name in MIRRORED:
            value = getattr(snap, name)
            if getattr(sub, name) != value:
                setattr(sub, name, value)
                changed.append(name)
        from_price = None
        if snap.price_id and snap.price_id != sub.price.stripe_price_id:
            price = (
                PlanPrice.objects.select_related("plan")
                .filter(stripe_price_id=snap.price_id)
                .first()
            )
            if price is not None:
                from_price = sub.price_id
                details.update(from_price=sub.price_id, to_price=price.pk)
                sub.price = price
                changed.append("price")
        if "cancel_at_period_end" in changed:
            details["cancel_at_period_end"] = sub.cancel_at_period_end
        source = sub.status

        def write(row: Subscription, frm: str, to: str) -> None:
            _event(row, frm, to, reason, actor, details)

        if source != snap.status:
            if snap.status in effects.STARTED and sub.started_at is None:
                sub.started_at = timezone.now()
                changed.append("started_at")
            sub.synced_at = timezone.now()
            SUBSCRIPTION_STATES.move(
                sub,
                snap.status,
                also_update=[*changed, "synced_at"],
                event=write,
            )
            effects.status_changed(sub, source, snap.status)
            if snap.status == SubscriptionStatus.INCOMPLETE_EXPIRED:
                # Never paid: its coupon use goes back, as an unpaid order's.
                coupon_services.subscription_coupon_release(subscription_id=sub.pk)
        elif changed:
            sub.synced_at = timezone.now()
            sub.save(update_fields=[*changed, "synced_at", "updated_at"])
            if from_price is not None or "cancel_at_period_end" in changed:
                event = _event(sub, source, source, reason, actor, details)
                if from_price is not None:
                    effects.price_changed(sub, from_price=from_price, event_id=event.pk)
                else:
                    effects.cancel_flag_changed(sub, event_id=event.pk)
    return sub


def subscription_sync(*, stripe_id: str, reason: str = "sync") -> Subscription | None:
    """Fetch the subscription from Stripe and upsert ours; None when not ours."""
    sub = Subscription.objects.filter(stripe_id=stripe_id).only("pk").first()
    if sub is None:
        return None
    snap = gw.subscription_retrieve(subscription_id=stripe_id)
    return subscription_apply(
        subscription_id=sub.pk, snap=snap, reason=reason, actor="stripe"
    )
