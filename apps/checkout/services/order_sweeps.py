"""Periodic sweeps: finalise paid orders a lost task never finalised, cancel
unpaid orders whose stock hold expired."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.billing import selectors as billing_selectors
from apps.billing import services as billing_services
from apps.billing.exceptions import PaymentProviderError, TransientError
from apps.billing.gateway.types import IntentStatus
from apps.checkout.models import Order
from apps.checkout.services.customer_messages import order_cancelled_send
from apps.checkout.services.orders import _reservation_ref
from apps.checkout.services.payment_outcome import (
    _cancel_unpaid_locked,
    order_payment_succeeded,
)
from apps.core.audit import audit_log
from apps.inventory.models import Reservation

if TYPE_CHECKING:
    from apps.billing.models import Payment

logger = logging.getLogger(__name__)

ST = Order.Status


PENDING_ORDER_BATCH = 100


def pending_order_max_age() -> timedelta:
    """How long an order may await payment (``CHECKOUT_PENDING_ORDER_MAX_AGE``,
    minutes; one hour by default)."""
    return timedelta(minutes=settings.CHECKOUT_PENDING_ORDER_MAX_AGE)


def _pending_orders_untouched_since(
    cutoff: datetime, *, limit: int
) -> tuple[list[str], dict[str, Payment]]:
    """Return the oldest pending orders' numbers and each one's latest payment."""
    numbers = list(
        Order.objects.filter(status=ST.PENDING_PAYMENT, updated_at__lt=cutoff)
        .order_by("updated_at")
        .values_list("number", flat=True)[:limit]
    )
    latest: dict[str, Payment] = {}
    for row in billing_selectors.payments_for_references(references=numbers).order_by(
        "pk"
    ):
        latest[row.reference] = row  # ascending pk: the newest wins
    return numbers, latest


def _pending_orders_to_cancel(
    cutoff: datetime, now: datetime, *, limit: int
) -> tuple[list[str], dict[str, Payment]]:
    """Return the oldest pending orders whose stock hold has lapsed (no active
    hold left, or all expired) or that were untouched since ``cutoff``, and
    each one's latest payment."""
    numbers: list[str] = []
    pending = (
        Order.objects.filter(status=ST.PENDING_PAYMENT)
        .order_by("updated_at")
        .only("number", "checkout_id", "updated_at")
    )
    for chunk in _chunks(pending.iterator(chunk_size=500), 500):
        refs = {_reservation_ref(order): order for order in chunk}
        live = set(
            Reservation.objects.filter(
                ref__in=list(refs),
                status=Reservation.Status.ACTIVE,
                expires_at__gt=now,
            ).values_list("ref", flat=True)
        )
        numbers += [
            order.number
            for ref, order in refs.items()
            if ref not in live or order.updated_at < cutoff
        ]
        if len(numbers) >= limit:
            break
    numbers = numbers[:limit]
    latest: dict[str, Payment] = {}
    for row in billing_selectors.payments_for_references(references=numbers).order_by(
        "pk"
    ):
        latest[row.reference] = row  # ascending pk: the newest wins
    return numbers, latest


def _chunks(items: Iterator[Order], size: int) -> Iterator[list[Order]]:
    chunk: list[Order] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _still_abandoned(order: Order, cutoff: datetime, now: datetime) -> bool:
    """Under the order's lock: its hold still lapsed, or untouched since cutoff
    (the customer may have come back and been given a fresh hold meanwhile)."""
    if order.updated_at < cutoff:
        return True
    return not Reservation.objects.filter(
        ref=_reservation_ref(order),
        status=Reservation.Status.ACTIVE,
        expires_at__gt=now,
    ).exists()


def orders_cancel_abandoned(
    *, older_than: timedelta | None = None, limit: int = PENDING_ORDER_BATCH
) -> list[str]:
    """Cancel ``pending_payment`` orders whose stock hold has expired, or left
    untouched longer than ``older_than`` (default: ``pending_order_max_age()``).

    For each, the intent is re-fetched from Stripe first, with no transaction
    open: one that succeeded after all is finalised instead, one still
    processing is left alone. Otherwise the intent is cancelled through the
    gateway (no row lock held), then, under the order's lock and only if the
    order is still abandoned and that intent still its latest, the order is
    cancelled, its stock hold released (once: the status transition runs
    once) and an audit row written. A Stripe failure on one order is logged
    and left for the next run. Return the numbers cancelled.
    """
    now = timezone.now()
    cutoff = now - (older_than or pending_order_max_age())
    numbers, latest = _pending_orders_to_cancel(cutoff, now, limit=limit)
    cancelled: list[str] = []
    for number in numbers:
        payment = latest.get(number)
        try:
            if payment is not None and payment.status not in (
                IntentStatus.SUCCEEDED,
                IntentStatus.CANCELED,
            ):
                payment = billing_services.payment_sync(
                    intent_id=payment.intent_id, payment=payment
                )
            if payment is not None and payment.status == IntentStatus.SUCCEEDED:
                order_payment_succeeded(
                    intent_id=payment.intent_id, source="sweep", payment=payment
                )
                continue
            if payment is not None and payment.status == IntentStatus.PROCESSING:
                continue  # the money is on its way; Stripe will say how it ended
            if payment is not None and payment.is_open:
                payment = billing_services.payment_cancel(payment=payment)
        except (TransientError, PaymentProviderError) as exc:
            logger.warning("pending-order sweep: %s left for later: %s", number, exc)
            continue
        with transaction.atomic():
            order = (
                Order.objects.select_for_update()
                .filter(number=number, status=ST.PENDING_PAYMENT)
                .first()
            )
            if order is None or not _still_abandoned(order, cutoff, now):
                continue
            now_latest = billing_selectors.payment_latest_for_reference(
                reference=number
            )
            if (now_latest.pk if now_latest else None) != (
                payment.pk if payment else None
            ) or (
                now_latest is not None and now_latest.status == IntentStatus.SUCCEEDED
            ):
                continue  # a new intent or a success arrived meanwhile
            _cancel_unpaid_locked(
                order,
                source="sweep",
                message="Not paid before its stock hold expired: payment cancelled.",
            )
            order_cancelled_send(order, reason="it was not paid in time")
            audit_log(
                action="order_abandoned_cancelled",
                obj=order,
                data={
                    "intent": payment.intent_id if payment else "",
                    "intent_status": payment.status if payment else "",
                    "total_minor": order.total_minor,
                },
            )
        cancelled.append(number)
    return cancelled


STUCK_PAYMENT_AFTER = timedelta(minutes=10)


STUCK_PAYMENT_BATCH = 100


def orders_finalize_stuck(
    *, older_than: timedelta = STUCK_PAYMENT_AFTER, limit: int = STUCK_PAYMENT_BATCH
) -> list[str]:
    """Finalise pending orders whose payment succeeded but were never finalised.

    The webhook queues finalisation after its commit; when the broker was down
    that task is lost while Stripe has the money. For each order still
    ``pending_payment`` and untouched for ``older_than``, a payment we already
    know succeeded is finalised; an open one is re-fetched from Stripe (no
    transaction open) and finalised if it succeeded meanwhile. Return the
    numbers of the orders finalised (paid or compensated). A Stripe failure
    on one order is logged and left for the next sweep.
    """
    cutoff = timezone.now() - older_than
    numbers, latest = _pending_orders_untouched_since(cutoff, limit=limit)
    done: list[str] = []
    for number in numbers:
        payment = latest.get(number)
        if payment is None or payment.status == IntentStatus.CANCELED:
            continue
        if payment.status != IntentStatus.SUCCEEDED:
            try:
                payment = billing_services.payment_sync(
                    intent_id=payment.intent_id, payment=payment
                )
            except (TransientError, PaymentProviderError) as exc:
                logger.warning("sweep: cannot re-fetch %s: %s", payment.intent_id, exc)
                continue
            if payment.status != IntentStatus.SUCCEEDED:
                continue
        order = order_payment_succeeded(
            intent_id=payment.intent_id, source="sweep", payment=payment
        )
        if order is not None and order.status != ST.PENDING_PAYMENT:
            done.append(number)
    return done
