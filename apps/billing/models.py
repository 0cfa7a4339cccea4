"""Our own record of every PaymentIntent and refund (Stripe stays the truth).

Billing owns payments: checkout asks billing's services to create, update,
sync and refund them and passes an opaque ``reference`` (its order number);
billing never imports checkout.
"""

from django.db import models
from django.db.models import F, Q

from apps.billing.gateway.types import (
    OPEN_INTENT_STATUSES,
    IntentStatus,
    RefundStatus,
)
from apps.core.models import TimeStampedModel
from apps.core.state import StateMachine

# Stripe's PaymentIntent statuses, stored unchanged.
INTENT_STATUSES = tuple(status.value for status in IntentStatus)


class Payment(TimeStampedModel):
    """One Stripe PaymentIntent for one order reference."""

    reference = models.CharField(
        max_length=64, db_index=True, help_text="The order number it pays for."
    )
    intent_id = models.CharField("PaymentIntent id", max_length=255, unique=True)
    client_secret = models.CharField(max_length=255, blank=True)
    amount_minor = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(
        max_length=32,
        choices=[(s, s) for s in INTENT_STATUSES],
        default=IntentStatus.REQUIRES_PAYMENT_METHOD.value,
    )
    idempotency_key = models.CharField(max_length=255)
    amount_refunded_minor = models.PositiveBigIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=INTENT_STATUSES),
                name="billing_payment_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(amount_refunded_minor__lte=F("amount_minor")),
                name="billing_payment_refund_lte_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.intent_id} {self.amount_minor} {self.currency} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_INTENT_STATUSES


class PaymentRefund(models.Model):
    """One Stripe Refund of (part of) a payment."""

    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, related_name="refunds"
    )
    refund_id = models.CharField(max_length=255, unique=True)
    amount_minor = models.PositiveBigIntegerField()
    status = models.CharField(max_length=32, default=RefundStatus.SUCCEEDED.value)
    reason = models.CharField(max_length=255, blank=True)
    idempotency_key = models.CharField(max_length=255, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.refund_id} {self.amount_minor}"


_S = IntentStatus
# What Stripe lets a PaymentIntent do, as far as the shop records it. A
# succeeded or canceled intent never changes again, so a late webhook or a
# stale read cannot undo either.
_BEFORE_CAPTURE = {
    _S.REQUIRES_PAYMENT_METHOD,
    _S.REQUIRES_CONFIRMATION,
    _S.REQUIRES_ACTION,
    _S.PROCESSING,
}
PAYMENT_STATES: StateMachine[Payment] = StateMachine(
    model=Payment,
    field="status",
    name="payment",
    transitions={
        **{
            source: frozenset(
                (_BEFORE_CAPTURE | {_S.REQUIRES_CAPTURE, _S.CANCELED, _S.SUCCEEDED})
                - {source}
            )
            for source in _BEFORE_CAPTURE
        },
        _S.REQUIRES_CAPTURE: frozenset({_S.CANCELED, _S.SUCCEEDED}),
        _S.CANCELED: frozenset(),
        _S.SUCCEEDED: frozenset(),
    },
    stamps={_S.SUCCEEDED: "succeeded_at"},
)
