"""Endpoints staff register, and one delivery per (endpoint, outbox event)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from apps.core.models import TimeStampedModel
from apps.core.state import StateMachine


class Endpoint(TimeStampedModel):
    """A URL of the shop's own integrations and the event types it wants.

    The secret signs every delivery; staff see it once, when it is made.
    """

    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    event_types = models.JSONField(
        default=list, help_text='Patterns such as "order.*" or "invoice.paid".'
    )
    is_active = models.BooleanField(default=True)
    secret = models.CharField(max_length=80, editable=False)
    consecutive_dead_count = models.PositiveIntegerField(default=0)
    disabled_reason = models.CharField(max_length=255, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.description or self.url

    @property
    def secret_hint(self) -> str:
        return f"{self.secret[:6]}…{self.secret[-4:]}" if self.secret else ""


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    SENDING = "sending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DEAD = "dead"


class Delivery(TimeStampedModel):
    """One outbox event for one endpoint: the exact body, and how sending went.

    ``failed`` means another attempt is scheduled at ``next_attempt_at``;
    ``dead`` means the attempts or the retry window ran out.
    """

    Status = DeliveryStatus

    endpoint = models.ForeignKey(
        Endpoint, on_delete=models.PROTECT, related_name="deliveries"
    )
    event_id = models.BigIntegerField(help_text="The core outbox event.")
    event_type = models.CharField(max_length=64)
    body = models.TextField(help_text="The JSON sent, byte for byte.")
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveIntegerField(
        default=0, help_text="Attempts since created or last resent."
    )
    window_started_at = models.DateTimeField()
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_response_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=255, blank=True)
    response_snippet = models.TextField(blank=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)
    dead_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=128, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-pk"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event_id"], name="webhooks_delivery_once"
            ),
            models.CheckConstraint(
                condition=Q(status__in=DeliveryStatus.values),
                name="webhooks_delivery_status_valid",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["pending", "failed"]),
                name="webhooks_delivery_due",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_type} #{self.event_id} → {self.endpoint_id}"


_D = DeliveryStatus
# pending/failed → sending is the claim (apps.core.claims), one conditional
# UPDATE; resend puts any finished or failed delivery back to pending.
DELIVERY_TRANSITIONS: dict[str, set[str]] = {
    _D.PENDING: {_D.SENDING},
    _D.SENDING: {_D.SUCCEEDED, _D.FAILED, _D.DEAD},
    _D.FAILED: {_D.SENDING, _D.PENDING},
    _D.DEAD: {_D.PENDING},
    _D.SUCCEEDED: {_D.PENDING},
}
DELIVERY_STATES = StateMachine(
    model=Delivery,
    field="status",
    transitions=DELIVERY_TRANSITIONS,
    name="delivery",
    stamps={_D.SUCCEEDED: "succeeded_at", _D.DEAD: "dead_at"},
)


class DeliveryAttempt(models.Model):
    """One POST of a delivery: when, what was sent, and what came back."""

    delivery = models.ForeignKey(
        Delivery, on_delete=models.CASCADE, related_name="attempt_records"
    )
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    request_headers = models.JSONField(default=dict)
    response_code = models.PositiveIntegerField(null=True, blank=True)
    response_snippet = models.TextField(blank=True)
    error = models.CharField(max_length=255, blank=True)
    succeeded = models.BooleanField(default=False)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}"
