"""Metered overage: usage beyond a plan's included quantity, billed on the
period's renewal invoice as a Stripe invoice item, once per period.

A beat job runs ahead of each period end (``LEAD``) so the item is pending
when Stripe creates the renewal invoice. The ``UsageOverageCharge`` row is
written before the Stripe call and names the idempotency key, so a job that
runs twice, or dies between the call and the save, never bills twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from apps.billing.gateway import invoice_items as gw_items
from apps.subscriptions.models import Customer, Subscription
from apps.subscriptions.usage.models import (
    MeteredPrice,
    UsageEvent,
    UsageOverageCharge,
)

# Pushed this long before the period ends; usage after the push in the last
# stretch of a period is not billed (Stripe has invoiced by then).
LEAD = timedelta(hours=1)


def overage_units(*, used: int, metered: MeteredPrice) -> int:
    """Billed units: blocks started beyond the included quantity × block size."""
    beyond = max(0, used - metered.included)
    blocks = -(-beyond // metered.block_size)
    return blocks * metered.block_size


def overage_amount_minor(*, used: int, metered: MeteredPrice) -> int:
    return (
        overage_units(used=used, metered=metered)
        // metered.block_size
        * metered.block_amount_minor
    )


def _hard_limited(limits: dict, metric: str) -> bool:
    windows = limits.get(metric) or {}
    return any(value is not None for value in windows.values())


def _period_usage(
    sub: Subscription, metric: str, period: tuple[datetime, datetime]
) -> int:
    total = UsageEvent.objects.filter(
        user_id=sub.user_id,
        metric=metric,
        created_at__gte=period[0],
        created_at__lt=period[1],
    ).aggregate(total=Sum("quantity"))["total"]
    return int(total or 0)


def _charge_row(
    sub: Subscription,
    metered: MeteredPrice,
    used: int,
    period: tuple[datetime, datetime],
) -> UsageOverageCharge | None:
    amount = overage_amount_minor(used=used, metered=metered)
    if amount <= 0:
        return None
    try:
        with transaction.atomic():
            return UsageOverageCharge.objects.create(
                subscription=sub,
                metric=metered.metric,
                period_start=period[0],
                period_end=period[1],
                used=used,
                billed_units=overage_units(used=used, metered=metered),
                amount_minor=amount,
                currency=sub.price.currency,
            )
    except IntegrityError:
        return UsageOverageCharge.objects.get(
            subscription=sub,
            metric=metered.metric,
            period_start=period[0],
        )


def usage_overage_push(*, subscription: Subscription) -> list[UsageOverageCharge]:
    """Push this period's overage of every metered metric; return the charges.

    Raise TransientError (from the gateway) when Stripe cannot be reached; the
    rows stay without a Stripe id and the next run retries with the same key.
    """
    sub = (
        Subscription.objects.select_related("price__plan")
        .filter(pk=subscription.pk)
        .first()
    )
    if sub is None or not sub.current_period_start or not sub.current_period_end:
        return []
    period = (sub.current_period_start, sub.current_period_end)
    plan = sub.price.plan
    customer = Customer.objects.get(user_id=sub.user_id)
    charges = []
    for metered in MeteredPrice.objects.filter(plan=plan).order_by("metric"):
        if _hard_limited(plan.limits, metered.metric):
            continue
        used = _period_usage(sub, metered.metric, period)
        charge = _charge_row(sub, metered, used, period)
        if charge is None:
            continue
        if not charge.stripe_invoice_item_id:
            item = gw_items.invoice_item_create(
                customer_id=customer.stripe_id,
                subscription_id=sub.stripe_id,
                amount_minor=charge.amount_minor,
                currency=charge.currency,
                description=(
                    f"{charge.metric}: {charge.used} used, {metered.included} "
                    f"included, {charge.billed_units} billed"
                ),
                idempotency_key=f"usage-overage-{charge.pk}",
            )
            charge.stripe_invoice_item_id = item.id
            charge.save(update_fields=["stripe_invoice_item_id"])
        charges.append(charge)
    return charges


def usage_overage_push_due(*, now: datetime | None = None) -> int:
    """Push overage for subscriptions whose period ends within ``LEAD``."""
    now = now or timezone.now()
    subs = (
        Subscription.objects.filter(
            status__in=["active", "past_due"],
            current_period_end__gt=now - LEAD,
            current_period_end__lte=now + LEAD,
            price__plan__metered_prices__isnull=False,
        )
        .exclude(stripe_id="")
        .distinct()
    )
    return sum(len(usage_overage_push(subscription=sub)) for sub in subs)
