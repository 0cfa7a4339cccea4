"""Receivers: the plan catalogue cache, and Stripe's subscription events.

Stripe events arrive as billing signals carrying ids only; the sync fetches
the object from Stripe, so a replayed or reordered event converges.
"""

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from apps.billing import signals as billing_signals
from apps.subscriptions import selectors
from apps.subscriptions.entitlements import entitlements_invalidate
from apps.subscriptions.models import Feature, Invoice, Plan, PlanPrice
from apps.subscriptions.services.invoices import invoice_sync
from apps.subscriptions.services.reminders import trial_ending_remind
from apps.subscriptions.services.sync import subscription_sync
from apps.subscriptions.signals import access_changed


@receiver(post_save, sender=Feature)
@receiver(post_delete, sender=Feature)
@receiver(post_save, sender=Plan)
@receiver(post_delete, sender=Plan)
@receiver(post_save, sender=PlanPrice)
@receiver(post_delete, sender=PlanPrice)
def catalogue_changed(**kwargs: Any) -> None:
    # Now and after commit: a reader between the two could cache the old rows.
    selectors.catalogue_invalidate()
    transaction.on_commit(selectors.catalogue_invalidate)


@receiver(billing_signals.subscription_event)
def stripe_subscription_event(
    *, stripe_id: str, event_type: str, **kwargs: Any
) -> None:
    sub = subscription_sync(stripe_id=stripe_id, reason=event_type)
    if sub is not None and event_type == "customer.subscription.trial_will_end":
        trial_ending_remind(subscription=sub)


@receiver(billing_signals.invoice_event)
def stripe_invoice_event(*, stripe_id: str, **kwargs: Any) -> None:
    invoice_sync(stripe_id=stripe_id)


@receiver(billing_signals.payment_succeeded, dispatch_uid="subscriptions.payment")
@receiver(billing_signals.payment_failed, dispatch_uid="subscriptions.payment_failed")
def stripe_invoice_intent_event(*, payment_intent_id: str, **kwargs: Any) -> None:
    # The invoice's payment_intent.*: the intent names no invoice, so only an
    # invoice we hold already is synced (invoice.* and the subscription's own
    # events cover one not seen yet).
    stripe_id = (
        Invoice.objects.filter(payment_intent_id=payment_intent_id)
        .values_list("stripe_id", flat=True)
        .first()
    )
    if stripe_id:
        invoice_sync(stripe_id=stripe_id)


@receiver(access_changed)
def entitlements_changed(*, user_id: int, **kwargs: Any) -> None:
    entitlements_invalidate(user_id=user_id)
