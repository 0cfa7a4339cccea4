"""Change plan: upgrades now with proration, downgrades at the period end.

An upgrade (a higher price per day, or a longer interval at a higher price)
is charged now: Stripe's upcoming invoice is the preview, and the invoice
then charged is the same computation. A downgrade, or a move to a shorter
interval, is our own ScheduledChange row, applied by beat when it is due.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from apps.billing.gateway import subscriptions as gw
from apps.subscriptions import selectors
from apps.subscriptions.exceptions import PlanChangeInvalid, PlanChangeNotAllowed
from apps.subscriptions.models import (
    SCHEDULED_CHANGE_STATES,
    PlanPrice,
    ScheduledChange,
    Subscription,
    SubscriptionStatus,
)
from apps.subscriptions.services import effects
from apps.subscriptions.services.subscribe import price_for_subscribe
from apps.subscriptions.services.sync import subscription_apply

if TYPE_CHECKING:
    from apps.accounts.models import User

DAYS = {"day": 1, "week": 7, "month": 30, "year": 365}
CHANGEABLE = (SubscriptionStatus.TRIALING, SubscriptionStatus.ACTIVE)
LEASE = timedelta(minutes=10)
# How long a preview's proration time may be charged: long enough to read the
# page and confirm, short enough that nobody picks a cheaper past second.
PREVIEW_VALID_FOR = timedelta(minutes=30)


def _per_day(price: PlanPrice) -> float:
    # Only to order two prices; no money is computed from it.
    return price.amount_minor / (DAYS[price.interval] * price.interval_count)


def is_upgrade(current: PlanPrice, new: PlanPrice) -> bool:
    longer = DAYS[new.interval] * new.interval_count > (
        DAYS[current.interval] * current.interval_count
    )
    return _per_day(new) > _per_day(current) or (
        longer and new.amount_minor > current.amount_minor
    )


@dataclass(frozen=True, slots=True)
class ChangePreview:
    kind: str  # "upgrade" (charged now) or "downgrade" (at the period end)
    amount_due_minor: int
    currency: str
    effective_at: datetime | None
    # An upgrade's proration time (epoch seconds): the change that passes it
    # back is charged exactly the preview's amount.
    proration_date: int | None = None


def _checked(
    *, user: User, subscription_id: int, price_id: int
) -> tuple[Subscription, PlanPrice]:
    sub = selectors.subscription_get_for_user(
        user=user, subscription_id=subscription_id
    )
    if sub.status not in CHANGEABLE or sub.cancel_at_period_end:
        raise PlanChangeNotAllowed(
            "Only a running subscription that is not ending can change plan."
        )
    price = price_for_subscribe(price_id=price_id, user=user)
    if price.pk == sub.price_id:
        raise PlanChangeInvalid("You are already on this price.")
    if price.currency != sub.price.currency:
        raise PlanChangeInvalid(
            f"Your subscription is billed in {sub.price.currency}.",
            code="currency_mismatch",
        )
    return sub, price


def _item_id(sub: Subscription) -> str:
    return gw.subscription_retrieve(subscription_id=sub.stripe_id).item_id


def subscription_change_preview(
    *, user: User, subscription_id: int, price_id: int
) -> ChangePreview:
    """What a change to ``price_id`` costs now (upgrade) or when it applies."""
    sub, price = _checked(user=user, subscription_id=subscription_id, price_id=price_id)
    if not is_upgrade(sub.price, price):
        return ChangePreview("downgrade", 0, price.currency, sub.current_period_end)
    snap = gw.subscription_retrieve(subscription_id=sub.stripe_id)
    at = int(timezone.now().timestamp())
    preview = gw.invoice_preview_price_change(
        customer_id=snap.customer,
        subscription_id=sub.stripe_id,
        item_id=snap.item_id,
        price_id=price.stripe_price_id,
        proration_date=at,
    )
    return ChangePreview(
        "upgrade",
        preview.amount_due_minor,
        preview.currency,
        datetime.fromtimestamp(at, tz=UTC),
        proration_date=at,
    )


def _proration_date_checked(sub: Subscription, proration_date: int | None) -> None:
    if proration_date is None:
        return
    now = timezone.now()
    try:
        at = datetime.fromtimestamp(proration_date, tz=UTC)
    except (OverflowError, OSError, ValueError):
        at = now + timedelta(days=1)  # no real time: refused below
    starts = sub.current_period_start
    if (
        at < now - PREVIEW_VALID_FOR
        or at > now + timedelta(minutes=1)
        or (starts is not None and at < starts)
    ):
        raise PlanChangeInvalid(
            "The price shown has expired; look at the change again.",
            code="preview_expired",
        )


def subscription_change(
    *,
    user: User,
    subscription_id: int,
    price_id: int,
    proration_date: int | None = None,
) -> Subscription | ScheduledChange:
    """Upgrade now (prorated) or schedule a downgrade for the period end.

    An upgrade given its preview's ``proration_date`` is prorated from that
    second, so it is charged the previewed amount; without one, from now.

    Raise PlanChangeInvalid (same_price, currency_mismatch, preview_expired
    for a proration date outside the last 30 minutes or the current period),
    PlanChangeNotAllowed, and the subscribe errors for an unusable price.
    """
    sub, price = _checked(user=user, subscription_id=subscription_id, price_id=price_id)
    if is_upgrade(sub.price, price):
        _proration_date_checked(sub, proration_date)
        snap = gw.subscription_change_price(
            subscription_id=sub.stripe_id,
            item_id=_item_id(sub),
            price_id=price.stripe_price_id,
            proration_date=proration_date,
            idempotency_key=f"subscription-change-{sub.pk}-{price.pk}-"
            f"{sub.updated_at.timestamp():.6f}-{proration_date or 'now'}",
        )
        PlanPrice.objects.filter(pk=price.pk, used_at__isnull=True).update(
            used_at=timezone.now()
        )
        return subscription_apply(
            subscription_id=sub.pk, snap=snap, reason="upgrade", actor=f"user:{user.pk}"
        )
    with transaction.atomic():
        SCHEDULED_CHANGE_STATES.move_many(
            ScheduledChange.objects.filter(subscription=sub),
            ScheduledChange.Status.CANCELLED,
        )
        change = ScheduledChange(
            subscription=sub,
            to_price=price,
            due_at=sub.current_period_end or timezone.now(),
        )
        change.full_clean(validate_constraints=False)
        change.save()
        effects._email(
            sub, "plan_change_scheduled", f"{sub.pk}:{change.pk}", change=change
        )
    return change


def scheduled_changes_apply_due(*, now: datetime | None = None) -> int:
    """Apply every due change once (beat); return how many were applied.

    Each row is claimed under ``SKIP LOCKED`` with a lease, and the Stripe
    call happens after the claim commits: no lock is held across it.
    """
    now = now or timezone.now()
    applied = 0
    while True:
        with transaction.atomic():
            change = (
                ScheduledChange.objects.select_for_update(skip_locked=True)
                .filter(status=ScheduledChange.Status.PENDING, due_at__lte=now)
                .exclude(leased_until__gt=now)
                .select_related("subscription", "to_price")
                .order_by("due_at", "pk")
                .first()
            )
            if change is None:
                return applied
            change.leased_until = now + LEASE
            change.save(update_fields=["leased_until", "updated_at"])
        sub = change.subscription
        snap = gw.subscription_change_price(
            subscription_id=sub.stripe_id,
            item_id=_item_id(sub),
            price_id=change.to_price.stripe_price_id,
            prorate=False,
            idempotency_key=f"scheduled-change-{change.pk}",
        )
        subscription_apply(
            subscription_id=sub.pk, snap=snap, reason="scheduled_change", actor="system"
        )
        SCHEDULED_CHANGE_STATES.move_many(
            ScheduledChange.objects.filter(pk=change.pk),
            ScheduledChange.Status.APPLIED,
        )
        applied += 1
