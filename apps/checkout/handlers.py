"""Receivers of billing's payment signals, and of shipping zone changes.

The webhook sends them inside dj-stripe's transaction; finalisation may call
Stripe (an automatic refund), so it runs in a task after that commit.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from apps.billing.signals import payment_canceled, payment_failed, payment_succeeded
from apps.checkout.countries import served_countries_invalidate
from apps.checkout.models import ShippingMethod, ShippingZone
from apps.core.queue import enqueue_on_commit


@receiver(payment_succeeded, dispatch_uid="checkout.payment_succeeded")
def on_payment_succeeded(
    sender: Any, payment_intent_id: str, amount_minor: int, currency: str, **kwargs: Any
) -> None:
    from apps.checkout.tasks import finalize_payment

    # The amount Stripe says it took travels with the task: the order is
    # checked against Stripe's word, not against our own record of the intent.
    # With the broker down finalize_stuck_payments finishes it later.
    enqueue_on_commit(
        finalize_payment, payment_intent_id, "webhook", amount_minor, currency
    )


@receiver(payment_failed, dispatch_uid="checkout.payment_failed")
def on_payment_failed(
    sender: Any, payment_intent_id: str, error_message: str = "", **kwargs: Any
) -> None:
    from apps.checkout.services import order_payment_failed

    order_payment_failed(intent_id=payment_intent_id, error_message=error_message)


@receiver(payment_canceled, dispatch_uid="checkout.payment_canceled")
def on_payment_canceled(
    sender: Any, payment_intent_id: str, cancellation_reason: str = "", **kwargs: Any
) -> None:
    from apps.checkout.services import order_payment_canceled

    # No Stripe call: runs in the webhook's transaction, like a failure.
    order_payment_canceled(
        intent_id=payment_intent_id, source="webhook", reason=cancellation_reason
    )


@receiver(post_save, sender=ShippingZone, dispatch_uid="checkout.zone_saved")
@receiver(post_delete, sender=ShippingZone, dispatch_uid="checkout.zone_deleted")
@receiver(post_save, sender=ShippingMethod, dispatch_uid="checkout.method_saved")
@receiver(post_delete, sender=ShippingMethod, dispatch_uid="checkout.method_deleted")
def shipping_zones_changed(**kwargs: Any) -> None:
    # Now and after commit: a reader between the two could cache the old list.
    served_countries_invalidate()
    transaction.on_commit(served_countries_invalidate)
