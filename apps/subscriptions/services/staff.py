"""What staff do to a customer's subscription from admin.

Each call goes to Stripe first (no transaction held) and then through
``subscription_apply``, the one writer of Stripe's fields, with the staff
member as the actor in the history.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.utils import timezone

from apps.billing import gateway
from apps.billing.gateway import subscription_admin as gw_admin
from apps.billing.gateway import subscriptions as gw
from apps.core.exceptions import Conflict
from apps.subscriptions.models import (
    Invoice,
    Subscription,
    SubscriptionEvent,
    SubscriptionStatus,
)
from apps.subscriptions.services.manage import CANCELLABLE
from apps.subscriptions.services.sync import subscription_apply, subscription_sync

if TYPE_CHECKING:
    from apps.accounts.models import User

MAX_TRIAL_EXTENSION_DAYS = 90


class StaffActionRefused(Conflict):
    default_code = "staff_action_refused"
    codes = (
        "staff_action_refused",
        "not_trialing",
        "nothing_to_refund",
        "already_refunded",
        "coupon_already_applied",
    )


def _key(action: str, sub: Subscription) -> str:
    return f"staff-{action}-{sub.pk}-{sub.updated_at.timestamp():.6f}"


def subscription_staff_cancel(
    *, subscription_id: int, at_period_end: bool, staff: User
) -> Subscription:
    """Cancel at the period end or now; nothing is refunded here.

    Raise StaffActionRefused when it has ended or already ends at the period end.
    """
    sub = Subscription.objects.get(pk=subscription_id)
    if sub.status not in CANCELLABLE or not sub.stripe_id:
        raise StaffActionRefused(f"A {sub.status} subscription cannot be cancelled.")
    if at_period_end and sub.cancel_at_period_end:
        raise StaffActionRefused("It already ends at the period end.")
    snap = gw.subscription_cancel(
        subscription_id=sub.stripe_id,
        at_period_end=at_period_end,
        idempotency_key=_key("cancel-end" if at_period_end else "cancel-now", sub),
    )
    return subscription_apply(
        subscription_id=sub.pk,
        snap=snap,
        reason="cancel_at_period_end" if at_period_end else "cancel_now",
        actor=f"staff:{staff.pk}",
    )


def subscription_staff_sync(*, subscription_id: int) -> Subscription | None:
    """Fetch the subscription from Stripe now (the webhook's path)."""
    sub = Subscription.objects.get(pk=subscription_id)
    if not sub.stripe_id:
        return None
    return subscription_sync(stripe_id=sub.stripe_id, reason="staff_sync")


def subscription_trial_extend(
    *, subscription_id: int, days: int, staff: User
) -> Subscription:
    """Push a running trial's end ``days`` later (and so its first charge).

    Raise StaffActionRefused (code not_trialing) for anything but a trial.
    """
    if not 1 <= days <= MAX_TRIAL_EXTENSION_DAYS:
        raise StaffActionRefused(
            f"Extend by 1 to {MAX_TRIAL_EXTENSION_DAYS} days.", code="not_trialing"
        )
    sub = Subscription.objects.get(pk=subscription_id)
    if sub.status != SubscriptionStatus.TRIALING or sub.trial_end is None:
        raise StaffActionRefused(
            "Only a running trial can be extended.", code="not_trialing"
        )
    snap = gw_admin.subscription_trial_end_set(
        subscription_id=sub.stripe_id,
        trial_end=sub.trial_end + timedelta(days=days),
        idempotency_key=_key(f"trial-{days}", sub),
    )
    after = subscription_apply(
        subscription_id=sub.pk,
        snap=snap,
        reason="trial_extended",
        actor=f"staff:{staff.pk}",
    )
    SubscriptionEvent.objects.create(
        subscription=after,
        from_status=after.status,
        to_status=after.status,
        reason="trial_extended",
        actor=f"staff:{staff.pk}",
        details={
            "days": days,
            "trial_end": after.trial_end.isoformat() if after.trial_end else None,
        },
    )
    return after


def refund_pro_rata_amount(*, invoice: Invoice, until: datetime) -> int:
    """The unused share of the invoice's period from ``until``, rounded down."""
    if not invoice.period_start or not invoice.period_end:
        return 0
    whole = (invoice.period_end - invoice.period_start).total_seconds()
    unused = (invoice.period_end - max(until, invoice.period_start)).total_seconds()
    if whole <= 0 or unused <= 0:
        return 0
    return invoice.amount_paid_minor * int(unused) // int(whole)


def subscription_refund_pro_rata(
    *, subscription_id: int, staff: User, now: datetime | None = None
) -> int:
    """Refund the unused part of the last paid invoice; return the amount.

    The unused part runs from when the subscription ended (or now) to the
    invoice's period end. Once per invoice: raise StaffActionRefused (codes
    nothing_to_refund, already_refunded).
    """
    now = now or timezone.now()
    sub = Subscription.objects.select_related("price").get(pk=subscription_id)
    invoice = (
        sub.invoices.filter(status=Invoice.Status.PAID, amount_paid_minor__gt=0)
        .exclude(payment_intent_id="")
        .order_by("-period_end", "-pk")
        .first()
    )
    if invoice is None:
        raise StaffActionRefused("No paid invoice to refund.", code="nothing_to_refund")
    # A period invoice's own lines carry the service period; the invoice's
    # period fields on Stripe describe the previous one for subscriptions.
    lines = list(invoice.lines.exclude(period_end=None).order_by("-period_end"))
    period_start = lines[0].period_start if lines else invoice.period_start
    period_end = lines[0].period_end if lines else invoice.period_end
    measured = Invoice(
        amount_paid_minor=invoice.amount_paid_minor,
        period_start=period_start,
        period_end=period_end,
    )
    amount = refund_pro_rata_amount(invoice=measured, until=sub.ended_at or now)
    if amount <= 0:
        raise StaffActionRefused("Nothing is left unused.", code="nothing_to_refund")
    if SubscriptionEvent.objects.filter(
        subscription=sub, reason="refund_pro_rata", details__invoice=invoice.stripe_id
    ).exists():
        raise StaffActionRefused(
            "This invoice was refunded already.", code="already_refunded"
        )
    refund = gateway.refund_create(
        payment_intent_id=invoice.payment_intent_id,
        amount_minor=amount,
        idempotency_key=f"refund-pro-rata-{invoice.stripe_id}",
        metadata={"subscription": str(sub.pk), "invoice": invoice.stripe_id},
    )
    SubscriptionEvent.objects.create(
        subscription=sub,
        from_status=sub.status,
        to_status=sub.status,
        reason="refund_pro_rata",
        actor=f"staff:{staff.pk}",
        amount_minor=-amount,
        currency=invoice.currency,
        details={"invoice": invoice.stripe_id, "refund": refund.id},
    )
    return amount
