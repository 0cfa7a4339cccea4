"""Licence keys, the devices using them, and the guest subscribe flow.

Imported by ``models.py`` so Django registers them with the app. A licence's
status follows its subscription (``services/licences.py``); only a hash of
the key is stored, with its first group for display.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.core.models import TimeStampedModel
from apps.core.state import StateMachine


class LicenceKey(TimeStampedModel):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        REVOKED = "revoked", "Revoked"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    subscription = models.ForeignKey(
        "subscriptions.Subscription", on_delete=models.PROTECT, related_name="licences"
    )
    # sha256 of the normalised key: a 128-bit random key needs no salt or
    # slow hash, and one indexed lookup answers known and unknown keys alike.
    key_hash = models.CharField(max_length=64, unique=True)
    # The first group of the key, for the owner to tell keys apart.
    display_prefix = models.CharField(max_length=4)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.ACTIVE
    )
    seats = models.PositiveIntegerField(default=1)
    suspended_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["active", "suspended", "revoked"]),
                name="subscriptions_licencekey_status_valid",
            ),
            # Issuing twice (a redelivered signal, a rerun flow step) collides
            # here instead of making a second key.
            models.UniqueConstraint(
                fields=["subscription"],
                condition=~Q(status="revoked"),
                name="subscriptions_one_live_licence_per_subscription",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.display_prefix}-… ({self.status})"

    @property
    def masked(self) -> str:
        return f"{self.display_prefix}-****-****-****-****-****-****-****"


_L = LicenceKey.Status
LICENCE_TRANSITIONS: dict[str, set[str]] = {
    _L.ACTIVE: {_L.SUSPENDED, _L.REVOKED},
    _L.SUSPENDED: {_L.ACTIVE, _L.REVOKED},
    _L.REVOKED: set(),
}
LICENCE_STATES = StateMachine(
    model=LicenceKey,
    field="status",
    transitions=LICENCE_TRANSITIONS,
    name="licence",
    stamps={_L.SUSPENDED: "suspended_at", _L.REVOKED: "revoked_at"},
)


class LicenceDevice(models.Model):
    """A device that verified a key; released ones free their seat."""

    licence = models.ForeignKey(
        LicenceKey, on_delete=models.PROTECT, related_name="devices"
    )
    device_id = models.CharField(max_length=200)
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField()
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["first_seen_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["licence", "device_id"],
                condition=Q(released_at__isnull=True),
                name="subscriptions_one_seat_per_device",
            )
        ]

    def __str__(self) -> str:
        return self.device_id


class SubscribeFlow(TimeStampedModel):
    """A guest's purchase, step by step: payment, then the saga's steps."""

    class Status(models.TextChoices):
        AWAITING_PAYMENT = "awaiting_payment", "Awaiting payment"
        PROCESSING = "processing", "Processing"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    class Step(models.TextChoices):
        PAYMENT = "payment"
        IDENTITY = "identity"
        SUBSCRIPTION = "subscription"
        LICENCE = "licence"
        NOTIFICATION = "notification"
        DONE = "done"

    # What the visitor's page and API address the flow by (not guessable).
    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField()
    price = models.ForeignKey(
        "subscriptions.PlanPrice", on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.AWAITING_PAYMENT
    )
    current_step = models.CharField(
        max_length=20, choices=Step.choices, default=Step.PAYMENT
    )
    # {step: {"status": "done" | "failed", "at": iso time, ...what it made}}
    steps = models.JSONField(default=dict, blank=True)
    retry_count = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    failure_reason = models.CharField(max_length=100, blank=True)
    stripe_customer_id = models.CharField(max_length=255, blank=True)
    stripe_subscription_id = models.CharField(max_length=255, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    subscription = models.OneToOneField(
        "subscriptions.Subscription",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="subscribe_flow",
    )
    licence = models.ForeignKey(
        LicenceKey, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    notification_id = models.BigIntegerField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    status__in=["awaiting_payment", "processing", "completed", "failed"]
                ),
                name="subscriptions_subscribeflow_status_valid",
            ),
        ]
        indexes = [
            models.Index(
                fields=["stripe_subscription_id"], name="subscriptions_flow_stripe_sub"
            )
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.status}, {self.current_step})"


_F = SubscribeFlow.Status
SUBSCRIBE_FLOW_TRANSITIONS: dict[str, set[str]] = {
    _F.AWAITING_PAYMENT: {_F.PROCESSING, _F.FAILED},
    _F.PROCESSING: {_F.COMPLETED, _F.FAILED},
    _F.COMPLETED: set(),
    _F.FAILED: set(),
}
SUBSCRIBE_FLOW_STATES = StateMachine(
    model=SubscribeFlow,
    field="status",
    transitions=SUBSCRIBE_FLOW_TRANSITIONS,
    name="subscribe flow",
    stamps={_F.COMPLETED: "completed_at", _F.FAILED: "failed_at"},
)
