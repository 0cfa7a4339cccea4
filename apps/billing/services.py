"""Payment writes: create/update/sync/cancel PaymentIntents and refund them.

Each function talks to Stripe (through ``gateway``) outside any transaction
and records the result in its own short transaction, so no row lock is ever
held across a network call. Callers must not wrap these in ``atomic``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import DateTimeField, F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.billing import gateway
from apps.billing.exceptions import PaymentProviderError
from apps.billing.gateway import IntentStatus, PaymentIntentSnapshot
from apps.billing.models import PAYMENT_STATES, Payment, PaymentRefund
from apps.core.inserts import insert_unless_taken
from apps.core.models import IdempotencyRecord

logger = logging.getLogger(__name__)


def _record(
    intent: PaymentIntentSnapshot,
    *,
    reference: str = "",
    idempotency_key: str = "",
    payment: Payment | None = None,
    created: bool = False,
) -> Payment:
    """Create or refresh our Payment row from a Stripe PaymentIntent.

    An existing row is refreshed with one conditional UPDATE (no lock, no
    savepoint) whose filter is PAYMENT_STATES' table, so a stale read never
    undoes a success or a cancellation. Pass the caller's ``payment``
    instance to have it updated in place instead of re-read. ``created``
    says Stripe just created the intent: the row is then most likely new,
    so the INSERT is tried first (a concurrent twin's row makes it fall back
    to the UPDATE) instead of an UPDATE and a SELECT that find nothing.
    """
    status = intent.status
    error = intent.last_payment_error
    values: dict[str, Any] = {
        "amount_minor": intent.amount_minor,
        "currency": intent.currency,
        "last_error": (error.message if error else "")[:500],
    }
    if intent.client_secret:
        values["client_secret"] = intent.client_secret
    intent_id = intent.id
    insert_first = created
    for _attempt in range(2):
        now = timezone.now()
        if insert_first:
            insert_first = False
            inserted = _insert(
                intent_id,
                reference=reference,
                idempotency_key=idempotency_key,
                status=status,
                values=values,
                now=now,
            )
            if inserted is not None:
                return inserted
            payment = None
            continue  # created concurrently: refresh it
        # One UPDATE for both cases, so a sync costs one query: the row keeps
        # its status, or takes a move PAYMENT_STATES allows from where it is.
        rows = Payment.objects.filter(intent_id=intent_id).filter(
            Q(status=status) | Q(status__in=PAYMENT_STATES.sources_of(status))
        )
        changes: dict[str, Any] = {**values, "status": status, "updated_at": now}
        if status == IntentStatus.SUCCEEDED:
            changes["succeeded_at"] = Coalesce(
                F("succeeded_at"), Value(now, output_field=DateTimeField())
            )
        if rows.update(**changes):
            if payment is None or payment.intent_id != intent_id:
                return Payment.objects.get(intent_id=intent_id)
            # The UPDATE wrote exactly these values: mirror them, no re-read.
            for name, value in {**values, "status": status, "updated_at": now}.items():
                setattr(payment, name, value)
            if status == IntentStatus.SUCCEEDED and payment.succeeded_at is None:
                payment.succeeded_at = now
            return payment
        existing = Payment.objects.filter(intent_id=intent_id).first()
        if existing is not None:
            return existing  # succeeded or canceled already: keep it
        inserted = _insert(
            intent_id,
            reference=reference,
            idempotency_key=idempotency_key,
            status=status,
            values=values,
            now=now,
        )
        if inserted is not None:
            return inserted
        payment = None  # created concurrently: refresh it
    return Payment.objects.get(intent_id=intent_id)


def _insert(
    intent_id: str,
    *,
    reference: str,
    idempotency_key: str,
    status: str,
    values: dict[str, Any],
    now: datetime,
) -> Payment | None:
    """INSERT the intent's row; None when a concurrent call wrote it first."""
    payment = Payment(
        intent_id=intent_id,
        reference=reference,
        idempotency_key=idempotency_key,
        status=status,
        **values,
    )
    if status == IntentStatus.SUCCEEDED:
        payment.succeeded_at = now
    # The two check constraints are the status choices (checked by the
    # field) and refunded <= amount (0 on a new row), and the database
    # enforces both on the INSERT: validating them here would cost a
    # SAVEPOINT, a SELECT and a RELEASE each.
    payment.full_clean(validate_unique=False, validate_constraints=False)
    # A concurrent twin's row is reported by the INSERT, not raised: no
    # savepoint.
    if not insert_unless_taken(payment, unique=("intent_id",)):
        return None
    return payment


def payment_intent_ensure(
    *,
    reference: str,
    amount_minor: int,
    currency: str,
    idempotency_key: str,
    metadata: dict[str, str] | None = None,
    new_reference: bool = False,
) -> Payment:
    """Return the one open PaymentIntent for ``reference`` at ``amount_minor``.

    The first call creates it with ``idempotency_key`` (so two identical
    concurrent calls get the same intent from Stripe); a later call with a
    new amount updates the same intent, or cancels and replaces it when
    Stripe no longer lets it change. A succeeded or processing payment is
    returned unchanged. ``new_reference=True`` says the caller just created
    ``reference`` (a new order's number): no payment can have it, none is
    looked up. Raise PaymentProviderError or TransientError.
    """
    existing = (
        None
        if new_reference
        else Payment.objects.filter(reference=reference).order_by("-pk").first()
    )
    if existing is not None and existing.status in (
        IntentStatus.SUCCEEDED,
        IntentStatus.PROCESSING,
    ):
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
    return _record(
        intent, reference=reference, idempotency_key=idempotency_key, created=True
    )


def payment_sync(*, intent_id: str, payment: Payment | None = None) -> Payment:
    """Re-fetch the intent from Stripe and store its status.

    Pass the Payment already loaded to have it refreshed in place (one query).
    Raise PaymentProviderError or TransientError.
    """
    return _record(
        gateway.payment_intent_retrieve(payment_intent_id=intent_id), payment=payment
    )


def payment_status_record(
    *, intent_id: str, status: IntentStatus | str, error_message: str = ""
) -> Payment | None:
    """Store a status a webhook reported; None for an intent we never created.

    Webhooks arrive late and out of order: a move PAYMENT_STATES does not
    allow (after a success or a cancellation) is stale and ignored.
    """
    status = IntentStatus(status)
    with transaction.atomic():
        payment = (
            Payment.objects.select_for_update().filter(intent_id=intent_id).first()
        )
        if payment is None:
            return None
        if payment.status == status:
            return payment
        if not PAYMENT_STATES.allowed(payment.status, status):
            logger.info(
                "stale status %s for %s ignored (it is %s)",
                status,
                intent_id,
                payment.status,
            )
            return payment
        payment.last_error = error_message[:500]
        PAYMENT_STATES.move(payment, status, also_update=["last_error"])
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
            refund_id=refund.id,
            defaults={
                "payment": locked,
                "amount_minor": refund.amount_minor,
                "status": refund.status.value,
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
