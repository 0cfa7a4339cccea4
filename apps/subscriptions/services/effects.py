"""What a real subscription change tells the rest of the shop: outbox + email.

Called inside the transaction that made the change, so an event exists
exactly when the change committed. Each email has a key naming the change,
so a replayed sync sends nothing twice.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from apps.core.money import money_api
from apps.core.notifications import notification_enqueue_template
from apps.core.outbox import outbox_publish
from apps.subscriptions.models import Invoice as InvoiceModel
from apps.subscriptions.models import SubscriptionStatus
from apps.subscriptions.signals import (
    access_changed,
    invoice_paid,
    invoice_payment_failed,
)

if TYPE_CHECKING:
    from apps.subscriptions.models import Invoice, Subscription

STARTED = {SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING}
ENDED = {SubscriptionStatus.CANCELED, SubscriptionStatus.INCOMPLETE_EXPIRED}


def _payload(sub: Subscription, **extra: object) -> dict[str, object]:
    return {
        "subscription": sub.pk,
        "user": sub.user_id,
        "plan": sub.price.plan.slug,
        "price": sub.price_id,
        "status": sub.status,
        "amount": money_api(sub.price.amount_minor, sub.price.currency),
        **extra,
    }


def _email(sub: Subscription, kind: str, key: str, **context: object) -> None:
    notification_enqueue_template(
        kind=f"subscriptions.{kind}",
        recipient=sub.user.email,
        idempotency_key=f"subscriptions.{kind}:{key}",
        template_prefix=f"subscriptions/email/{kind}",
        context={
            "subscription": sub,
            "url": settings.SITE_URL.rstrip("/") + reverse("subscriptions:account"),
            **context,
        },
    )


def _publish(topic: str, sub: Subscription, **extra: object) -> None:
    outbox_publish(
        topic=topic,
        payload=_payload(sub, **extra),
        aggregate_type="subscription",
        aggregate_id=sub.pk,
    )


def access_may_have_changed(sub: Subscription, reason: str) -> None:
    """Tell the entitlement cache and licence keys once the change commits."""
    transaction.on_commit(
        partial(
            access_changed.send,
            sender=type(sub),
            subscription_id=sub.pk,
            user_id=sub.user_id,
            reason=reason,
        )
    )


def status_changed(sub: Subscription, source: str, to: str) -> None:
    access_may_have_changed(sub, f"status:{source}->{to}")
    if source == SubscriptionStatus.INCOMPLETE and to in STARTED:
        _publish("subscription.started", sub)
        _email(sub, "started", str(sub.pk))
    elif to in ENDED and source != SubscriptionStatus.INCOMPLETE:
        _publish("subscription.cancelled", sub)
        _email(sub, "cancelled", str(sub.pk))
    elif to != source:
        _publish("subscription.changed", sub, from_status=source)


def price_changed(sub: Subscription, *, from_price: int, event_id: int) -> None:
    access_may_have_changed(sub, "price")
    _publish("subscription.changed", sub, from_price=from_price)
    _email(sub, "plan_changed", f"{sub.pk}:{event_id}")


def cancel_flag_changed(sub: Subscription, *, event_id: int | None = None) -> None:
    _publish("subscription.changed", sub, cancel_at_period_end=sub.cancel_at_period_end)
    if sub.cancel_at_period_end:
        # Keyed by the history row: cancel, resume, cancel again mails twice.
        _email(sub, "cancellation_scheduled", f"{sub.pk}:{event_id}")


def renewed(sub: Subscription, invoice: Invoice) -> None:
    _publish(
        "subscription.renewed",
        sub,
        invoice=invoice.stripe_id,
        paid=money_api(invoice.amount_paid_minor, invoice.currency),
    )
    _email(sub, "renewal_receipt", invoice.stripe_id, invoice=invoice)


def invoice_synced(invoice: Invoice, sub: Subscription) -> None:
    """Tell dunning, after commit, that a renewal failed or an invoice is paid."""
    signal = None
    if invoice.status == InvoiceModel.Status.PAID:
        signal = invoice_paid
    elif (
        invoice.status == InvoiceModel.Status.OPEN
        and invoice.amount_due_minor > 0
        and sub.status in (SubscriptionStatus.PAST_DUE, SubscriptionStatus.UNPAID)
    ):
        signal = invoice_payment_failed
    if signal is not None:
        transaction.on_commit(
            partial(
                signal.send,
                sender=type(invoice),
                invoice_id=invoice.pk,
                subscription_id=sub.pk,
            )
        )
