"""Failed renewals recovered on the shop's own schedule (issue 15).

A ``DunningCase`` follows one unpaid invoice; its ``DunningAction`` rows are
the schedule (retries, emails, the grace end, the final action), claimed by
beat with a lease (``apps.core.claims``). ``DunningPolicy`` says what the
schedule is; staff edit it in admin.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from apps.core.models import TimeStampedModel
from apps.core.state import StateMachine


def _validate_offsets(value: object) -> None:
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, int) and v >= 0 for v in value)
        or value != sorted(set(value))
    ):
        raise ValidationError(
            "Give whole days after the failure, increasing, e.g. [1, 3, 5, 7]."
        )


def default_offsets() -> list[int]:
    return [1, 3, 5, 7]


class DunningPolicy(TimeStampedModel):
    class FinalAction(models.TextChoices):
        CANCEL = "cancel", "Cancel the subscription"
        MARK_UNCOLLECTIBLE = (
            "mark_uncollectible",
            "Mark the invoice uncollectible, keep the subscription unpaid",
        )

    name = models.CharField(max_length=100, unique=True)
    is_default = models.BooleanField(default=False)
    retry_offsets_days = models.JSONField(
        default=default_offsets,
        validators=[_validate_offsets],
        help_text="Days after the failure on which the card is charged again.",
    )
    # The "payment failed" email goes out when the case opens (day 0).
    reminder_day = models.PositiveSmallIntegerField(
        null=True, blank=True, default=3, help_text="Empty: no reminder email."
    )
    final_notice_day = models.PositiveSmallIntegerField(
        null=True, blank=True, default=6, help_text="Empty: no final notice email."
    )
    grace_days = models.PositiveSmallIntegerField(
        default=5, help_text="Days after the failure the plan's features stay."
    )
    final_action = models.CharField(
        max_length=20, choices=FinalAction.choices, default=FinalAction.CANCEL
    )
    final_action_day = models.PositiveSmallIntegerField(
        default=8, help_text="Day the final action runs; after the last retry."
    )
    do_not_honor_limit = models.PositiveSmallIntegerField(
        default=2,
        help_text="do_not_honor declines after which the card counts as dead.",
    )

    class Meta:
        verbose_name_plural = "dunning policies"
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=Q(is_default=True),
                name="dunning_one_default_policy",
            ),
            models.CheckConstraint(
                condition=Q(final_action__in=["cancel", "mark_uncollectible"]),
                name="dunning_policy_final_action_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        offsets = self.retry_offsets_days
        if (
            isinstance(offsets, list)
            and offsets
            and self.final_action_day < max(offsets)
        ):
            raise ValidationError(
                {"final_action_day": "The final action comes after the last retry."}
            )


class DunningCase(TimeStampedModel):
    class Status(models.TextChoices):
        OPEN = "open"
        RECOVERED = "recovered"
        EXHAUSTED = "exhausted"
        CANCELLED = "cancelled"

    subscription = models.ForeignKey(
        "subscriptions.Subscription", on_delete=models.PROTECT, related_name="+"
    )
    invoice = models.ForeignKey(
        "subscriptions.Invoice", on_delete=models.PROTECT, related_name="+"
    )
    policy = models.ForeignKey(
        DunningPolicy, on_delete=models.PROTECT, related_name="cases"
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.OPEN
    )
    failed_at = models.DateTimeField()
    grace_until = models.DateTimeField()
    # Set while staff hold the schedule; due actions wait, nothing is skipped.
    paused_at = models.DateTimeField(null=True, blank=True)
    # A hard decline or a bank asking for 3-D Secure: no more off-session
    # retries until the customer acts (new card, or the emailed link).
    awaiting_customer = models.CharField(max_length=30, blank=True)
    last_decline_code = models.CharField(max_length=50, blank=True)
    do_not_honor_count = models.PositiveSmallIntegerField(default=0)
    closed_at = models.DateTimeField(null=True, blank=True)
    close_reason = models.CharField(max_length=50, blank=True)

    class Meta:
        ordering = ["-failed_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice"],
                condition=Q(status="open"),
                name="dunning_one_open_case_per_invoice",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["open", "recovered", "exhausted", "cancelled"]),
                name="dunning_case_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"Case #{self.pk} ({self.status})"


C = DunningCase.Status
CASE_STATES: StateMachine[DunningCase] = StateMachine(
    model=DunningCase,
    field="status",
    name="dunning case",
    transitions={
        C.OPEN: {C.RECOVERED, C.EXHAUSTED, C.CANCELLED},
        C.RECOVERED: set(),
        C.EXHAUSTED: set(),
        C.CANCELLED: set(),
    },
    stamps={
        C.RECOVERED: "closed_at",
        C.EXHAUSTED: "closed_at",
        C.CANCELLED: "closed_at",
    },
)


class DunningAction(TimeStampedModel):
    """One step of a case's schedule, or a record of something done at once."""

    class Kind(models.TextChoices):
        RETRY = "retry"
        EMAIL = "email"
        GRACE_END = "grace_end"
        FINAL = "final"

    class Status(models.TextChoices):
        SCHEDULED = "scheduled"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        SKIPPED = "skipped"
        CANCELLED = "cancelled"

    case = models.ForeignKey(
        DunningCase, on_delete=models.CASCADE, related_name="actions"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # For emails: failed, reminder, final_notice, update_card, authenticate,
    # recovered. For retries: the reason (schedule, card_updated, staff).
    detail = models.CharField(max_length=30, blank=True)
    due_at = models.DateTimeField(db_index=True)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.SCHEDULED
    )
    attempt = models.PositiveSmallIntegerField(default=0)
    # Fixed when the row is made: a reaped run sends the same key, so Stripe
    # answers the second run with the first one's result, never charges twice.
    idempotency_key = models.CharField(max_length=100, blank=True)
    runs = models.PositiveSmallIntegerField(default=0)
    result = models.TextField(blank=True)
    decline_code = models.CharField(max_length=50, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=200, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at", "pk"]
        indexes = [models.Index(fields=["status", "due_at"], name="dunning_action_due")]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["retry", "email", "grace_end", "final"]),
                name="dunning_action_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(
                    status__in=[
                        "scheduled",
                        "running",
                        "succeeded",
                        "failed",
                        "skipped",
                        "cancelled",
                    ]
                ),
                name="dunning_action_status_valid",
            ),
            models.UniqueConstraint(
                fields=["idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="dunning_action_idempotency_key_unique",
            ),
        ]

    def __str__(self) -> str:
        label = f"{self.kind} {self.detail}".strip()
        return f"{label} due {self.due_at:%Y-%m-%d %H:%M} ({self.status})"


A = DunningAction.Status
# A claim (apps.core.claims) moves scheduled rows to running in one
# conditional UPDATE; the reaper moves running rows whose lease lapsed back.
ACTION_STATES: StateMachine[DunningAction] = StateMachine(
    model=DunningAction,
    field="status",
    name="dunning action",
    transitions={
        A.SCHEDULED: {A.RUNNING, A.SKIPPED, A.CANCELLED},
        A.RUNNING: {A.SUCCEEDED, A.FAILED, A.SKIPPED, A.SCHEDULED},
        A.SUCCEEDED: set(),
        A.FAILED: set(),
        A.SKIPPED: set(),
        A.CANCELLED: set(),
    },
    stamps={
        A.SUCCEEDED: "finished_at",
        A.FAILED: "finished_at",
        A.SKIPPED: "finished_at",
    },
)
