"""Renewals on localstripe, and the nightly comparison with Stripe."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from apps.billing.exceptions import PaymentDeclined, TransientError
from apps.billing.gateway import invoices as gw_invoices
from apps.billing.gateway import renewals as gw_renewals
from apps.billing.gateway import subscriptions as gw
from apps.core.exceptions import ApplicationError
from apps.subscriptions.models import (
    LIVE_STATUSES,
    Customer,
    Invoice,
    ReconcileRun,
    Subscription,
    SubscriptionStatus,
)
from apps.subscriptions.services.invoices import invoice_apply, invoice_sync
from apps.subscriptions.services.sync import subscription_sync


@dataclass(frozen=True, slots=True)
class ReconcileCounts:
    checked: int
    fixed: int
    failed: int


def subscription_simulate_renewal(*, subscription: Subscription) -> Invoice | None:
    """Create and pay the next invoice at localstripe, then sync it.

    Raise StripeFeatureUnavailable on real Stripe (it renews by itself).
    """
    customer = Customer.objects.get(user_id=subscription.user_id)
    # The period's own invoice first: without billing_reason (localstripe),
    # a renewal is told apart as a paid invoice after another one.
    current = gw.subscription_retrieve(subscription_id=subscription.stripe_id)
    if current.latest_invoice_id:
        invoice_sync(stripe_id=current.latest_invoice_id)
    snap = gw.renewal_invoice_create_and_pay(
        customer_id=customer.stripe_id,
        subscription_id=subscription.stripe_id,
        idempotency_key=f"renewal-{subscription.pk}-{timezone.now().timestamp()}",
    )
    return invoice_sync(stripe_id=snap.id)


def subscription_simulate_failed_renewal(
    *, subscription: Subscription, card_number: str = gw_renewals.CARD_RENEWAL_FAILS
) -> Invoice | None:
    """Renew at localstripe on a card the bank refuses, then sync what Stripe says.

    The recipe of issue 15: the card becomes the customer's default, the next
    invoice is created and charged once. localstripe then sends
    invoice.payment_failed but no customer.subscription.updated, so the sync
    re-fetches the subscription (past_due) itself. Raise
    StripeFeatureUnavailable on real Stripe.
    """
    customer = Customer.objects.get(user_id=subscription.user_id)
    current = gw.subscription_retrieve(subscription_id=subscription.stripe_id)
    if current.latest_invoice_id:
        invoice_sync(stripe_id=current.latest_invoice_id)
    gw_renewals.customer_default_card_set(
        customer_id=customer.stripe_id, number=card_number
    )
    key = f"renewal-fail-{subscription.pk}-{timezone.now().timestamp()}"
    invoice_id = gw_renewals.renewal_invoice_create(
        customer_id=customer.stripe_id,
        subscription_id=subscription.stripe_id,
        idempotency_key=key,
    )
    # A decline (also AuthenticationRequired) is the outcome asked for.
    with contextlib.suppress(PaymentDeclined):
        gw_invoices.invoice_pay(invoice_id=invoice_id, idempotency_key=f"{key}-pay")
    return invoice_sync(stripe_id=invoice_id)


def subscriptions_due_for_renewal() -> list[Subscription]:
    return list(
        Subscription.objects.filter(
            status__in=[SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE],
            current_period_end__lte=timezone.now(),
            cancel_at_period_end=False,
        ).exclude(stripe_id="")
    )


def billing_reconcile(*, days: int = 30) -> ReconcileCounts:
    """Sync every live subscription and recent invoices from Stripe; count.

    Each run leaves a ReconcileRun row with its counts, which admin lists.
    """
    started_at = timezone.now()
    checked = fixed = failed = 0
    for sub in Subscription.objects.filter(status__in=LIVE_STATUSES).exclude(
        stripe_id=""
    ):
        checked += 1
        try:
            after = subscription_sync(stripe_id=sub.stripe_id, reason="reconcile")
        except (ApplicationError, TransientError):
            failed += 1
            continue
        fixed += after is not None and after.updated_at != sub.updated_at
    since = timezone.now() - timedelta(days=days)
    for customer in Customer.objects.all():
        try:
            snaps = gw.invoice_list(customer_id=customer.stripe_id)
        except (ApplicationError, TransientError):
            failed += 1
            continue
        for snap in snaps:
            if snap.created_at and snap.created_at < since:
                continue
            checked += 1
            before = (
                Invoice.objects.filter(stripe_id=snap.id)
                .values_list("updated_at", flat=True)
                .first()
            )
            invoice = invoice_apply(snap=snap)
            fixed += invoice is not None and invoice.updated_at != before
    ReconcileRun.objects.create(
        started_at=started_at,
        finished_at=timezone.now(),
        checked=checked,
        fixed=fixed,
        failed=failed,
    )
    return ReconcileCounts(checked=checked, fixed=fixed, failed=failed)
