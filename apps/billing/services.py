"""Payment writes: create/update/sync/cancel PaymentIntents and refund them.

Each function talks to Stripe (through ``gateway``) outside any transaction
and records the result in its own short transaction, so no row lock is ever
held across a network call. Callers must not wrap these in ``atomic``.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import DateTimeField, F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.billing import gateway
from apps.billing.exceptions import PaymentProviderError
from apps.billing.models import Payment, PaymentRefund
from apps.core.models import IdempotencyRecord

logger = logging.getLogger(__name__)


def _get(intent: Any, name: str, default: Any = None) -> Any:
    try:
        return intent[name]
    except (KeyError, TypeError):
        return getattr(intent, name, default)


def _error_message(intent: Any) -> str:
    error = _get(intent, "last_payment_error") or {}
    return str(_get(error, "message") or "")[:500]


def _record(
    intent: Any,
    *,
    reference: str = "",
    idempotency_key: str = "",
    payment: Payment | None = None,
) -> Payment:
    """Create or refresh our Payment row from a Stripe PaymentIntent.

    An existing row is refreshed with one conditional UPDATE (no lock, no
    savepoint); a stale read never undoes a success. Pass the caller's
    ``payment`` instance to have it updated in place instead of re-read.
    """
    status = str(_get(intent, "status"))
    values = {
        "amount_minor": int(_get(intent, "amount")),
        "currency": str(_get(intent, "currency")).upper(),
        "status": status,
        "last_error": _error_message(intent),
    }
    secret = _get(intent, "client_secret")
    if secret:
        values["client_secret"] = secret
    intent_id = str(_get(intent, "id"))
    for _attempt in range(2):
        now = timezone.now()
        rows = Payment.objects.filter(intent_id=intent_id)
        changes: dict[str, Any] = {**values, "updated_at": now}
        if status == "succeeded":
            changes["succeeded_at"] = Coalesce(
                F("succeeded_at"), Value(now, output_field=DateTimeField())
            )
        else:
            rows = rows.exclude(status="succeeded")
        if rows.update(**changes):
            if payment is None or payment.intent_id != intent_id:
                return Payment.objects.get(intent_id=intent_id)
            for name, value in values.items():
                setattr(payment, name, value)
            payment.updated_at = now
            if status == "succeeded" and payment.succeeded_at is None:
                payment.succeeded_at = now
            return payment
        existing = Payment.objects.filter(intent_id=intent_id).first()
        if existing is not None:
            return existing  # succeeded already: keep it
        payment = Payment(
            intent_id=intent_id,
            reference=reference,
            idempotency_key=idempotency_key,
            **values,
        )
        if status == "succeeded":
            payment.succeeded_at = now
        payment.full_clean(validate_unique=False)
        try:
            with transaction.atomic():
                payment.save(force_insert=True)
            return payment
        except IntegrityError:
            payment = None
            continue  # created concurrently: refresh it
    return Payment.objects.get(intent_id=intent_id)


def payment_intent_ensure(
    *,
    reference: str,
    amount_minor: int,
    currency: str,
    idempotency_key: str,
    metadata: dict[str, str] | None = None,
) -> Payment:
    """Return the one open PaymentIntent for ``reference`` at ``amount_minor``.

    The first call creates it with ``idempotency_key`` (so two identical
    concurrent calls get the same intent from Stripe); a later call with a
    new amount updates the same intent, or cancels and replaces it when
    Stripe no longer lets it change. A succeeded or processing payment is
    returned unchanged. Raise PaymentProviderError or TransientError.
    """
    existing = Payment.objects.filter(reference=reference).order_by("-pk").first()
    if existing is not None and existing.status in ("succeeded", "processing"):
        return existing
    if existing is not None and existing.is_open:
        if existing.amount_minor == amount_minor and existing.currency == currency:
            return existing
        try:
            intent = gateway.payment_intent_update(
                payment_intent_id=existing.intent_id,
                amount_minor=amount_minor,
                idempotency_key=f"{idempotency_key}:update:{existing.intent_id}",
            )
            return _record(intent)
        except PaymentProviderError:
            logger.info("intent %s cannot change; replacing it", existing.intent_id)
            payment_cancel(payment=existing)
    if existing is not None and existing.idempotency_key == idempotency_key:
        # That key created the intent now cancelled: Stripe would replay it.
        idempotency_key = f"{idempotency_key}:after:{existing.intent_id}"
    intent = gateway.payment_intent_create(
        amount_minor=amount_minor,
        currency=currency,
        metadata={"reference": reference, **(metadata or {})},
        idempotency_key=idempotency_key,
    )
    return _record(intent, reference=reference, idempotency_key=idempotency_key)


def payment_sync(*, intent_id: str, payment: Payment | None = None) -> Payment:
    """Re-fetch the intent from Stripe and store its status.

    Pass the Payment already loaded to have it refreshed in place (one query).
    Raise PaymentProviderError or TransientError.
    """
    return _record(
        gateway.payment_intent_retrieve(payment_intent_id=intent_id), payment=payment
    )


def payment_status_record(
    *, intent_id: str, status: str, error_message: str = ""
) -> Payment | None:
    """Store a status a webhook reported; None for an intent we never created."""
    with transaction.atomic():
        payment = (
            Payment.objects.select_for_update().filter(intent_id=intent_id).first()
        )
        if payment is None:
            return None
        if payment.status == "succeeded" or payment.status == status:
            return payment
        payment.status = status
        payment.last_error = error_message[:500]
        fields = ["status", "last_error", "updated_at"]
        if status == "succeeded":
            payment.succeeded_at = timezone.now()
            fields.append("succeeded_at")
        payment.save(update_fields=fields)
        return payment


def payment_cancel(*, payment: Payment) -> Payment:
    """Cancel an open intent (order cancelled or intent replaced)."""
    if not payment.is_open:
        return payment
    intent = gateway.payment_intent_cancel(
        payment_intent_id=payment.intent_id,
        idempotency_key=f"cancel:{payment.intent_id}",
    )
    return _record(intent)


def payment_refund(
    *,
    payment: Payment,
    idempotency_key: str,
    amount_minor: int | None = None,
    reason: str = "",
) -> PaymentRefund:
    """Refund ``amount_minor`` (default: everything not yet refunded).

    Safe to repeat with the same idempotency key: Stripe replays the refund
    and the existing row is returned. Raise PaymentProviderError (nothing
    left to refund, or Stripe refused) or TransientError.
    """
    existing = PaymentRefund.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    claim = _refund_claim(idempotency_key)
    try:
        payment.refresh_from_db()
        left = payment.amount_minor - payment.amount_refunded_minor
        amount = left if amount_minor is None else int(amount_minor)
        if amount <= 0 or amount > left:
            raise PaymentProviderError(
                "Nothing left to refund on this payment.",
                code="refund_exceeds_payment",
                details={"refundable": left, "requested": amount},
            )
        refund = gateway.refund_create(
            payment_intent_id=payment.intent_id,
            amount_minor=amount,
            idempotency_key=idempotency_key,
            metadata={"reference": payment.reference, "reason": reason[:200]},
        )
    except BaseException:
        claim.delete()  # nothing was refunded: let a retry go ahead
        raise
    with transaction.atomic():
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        row, created = PaymentRefund.objects.get_or_create(
            refund_id=str(_get(refund, "id")),
            defaults={
                "payment": locked,
                "amount_minor": int(_get(refund, "amount")),
                "status": str(_get(refund, "status") or "succeeded"),
                "reason": reason[:255],
                "idempotency_key": idempotency_key,
            },
        )
        if created:
            Payment.objects.filter(pk=locked.pk).update(
                amount_refunded_minor=F("amount_refunded_minor") + row.amount_minor,
                updated_at=timezone.now(),
            )
        IdempotencyRecord.objects.filter(pk=claim.pk).update(
            state=IdempotencyRecord.State.DONE
        )
    return row


REFUND_CLAIM_SCOPE = "billing.refund"
# A claim whose holder died before recording its refund is taken over after
# this long (Stripe replays the refund by key, so taking over is safe).
REFUND_CLAIM_LEASE = timedelta(minutes=5)


def _refund_claim(idempotency_key: str) -> IdempotencyRecord:
    """Claim a refund key in the database before asking Stripe.

    Two concurrent calls with one key (a double-clicked refund) must not both
    reach Stripe: real Stripe answers the second with 409 while the first is
    in flight, and a fake may refund twice. Raise PaymentProviderError
    (``refund_in_progress``) to the second caller.
    """
    try:
        with transaction.atomic():
            return IdempotencyRecord.objects.create(
                scope=REFUND_CLAIM_SCOPE,
                key=idempotency_key,
                method="REFUND",
                path="",
                request_hash="",
            )
    except IntegrityError:
        pass
    now = timezone.now()
    stale = IdempotencyRecord.objects.filter(
        scope=REFUND_CLAIM_SCOPE,
        key=idempotency_key,
        state=IdempotencyRecord.State.IN_PROGRESS,
        created_at__lt=now - REFUND_CLAIM_LEASE,
    )
    if stale.update(created_at=now):
        return IdempotencyRecord.objects.get(
            scope=REFUND_CLAIM_SCOPE, key=idempotency_key
        )
    raise PaymentProviderError(
        "This refund is already being processed.",
        code="refund_in_progress",
        details={"idempotency_key": idempotency_key},
    )
