from django.conf import settings
from django.db import models


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Notification(TimeStampedModel):
    """One email to one recipient, sent at most once per idempotency key.

    Every outgoing mail (allauth's, order and stock mails) is a row here, so a
    redelivered task or a double-clicked button cannot send it twice, and
    failed attempts are visible in admin.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        SENT = "sent"
        FAILED = "failed"

    kind = models.CharField(max_length=64, db_index=True)
    recipient = models.EmailField()
    idempotency_key = models.CharField(max_length=255, unique=True)
    subject = models.CharField(max_length=255)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # The sender's lease (apps.core.claims): a worker that dies mid-send
    # leaves it to expire, then another may take the row over.
    claimed_by = models.CharField(max_length=128, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "sending", "sent", "failed"]),
                name="core_notification_status_valid",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.recipient} ({self.status})"


class IdempotencyRecord(models.Model):
    """The stored response of a POST sent with an ``Idempotency-Key`` header.

    The unique (scope, key) pair is claimed before the view runs, so two
    concurrent requests with one key cannot both execute.
    """

    class State(models.TextChoices):
        IN_PROGRESS = "in_progress"
        DONE = "done"

    scope = models.CharField(max_length=128)
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=512)
    request_hash = models.CharField(max_length=64)
    state = models.CharField(
        max_length=16, choices=State.choices, default=State.IN_PROGRESS
    )
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "key"], name="core_idempotency_scope_key_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key}"


class AuditLog(models.Model):
    """An append-only record of a business event and who caused it."""

    action = models.CharField(max_length=64, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    session_key = models.CharField(max_length=64, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True, db_index=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}:{self.object_id}"


class OutboxEvent(models.Model):
    """A business event written in the same transaction as the change it reports.

    The relay publishes each row once to the receivers registered in code
    (outgoing webhooks, analytics), so an event exists exactly when its change
    committed and no receiver hears of a change that rolled back.
    """

    topic = models.CharField(max_length=64, db_index=True)
    aggregate_type = models.CharField(max_length=64, blank=True)
    aggregate_id = models.CharField(max_length=64, blank=True)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["pk"]
        indexes = [
            models.Index(
                fields=["id"],
                condition=models.Q(published_at__isnull=True),
                name="core_outbox_unpublished",
            )
        ]

    def __str__(self) -> str:
        return f"{self.topic} {self.aggregate_type}:{self.aggregate_id}"


class Workflow(TimeStampedModel):
    """A step that failed and is retried later by its registered handler.

    ``name`` picks the handler (``apps.core.workflows.workflow_handler``);
    ``reference`` is what the step is about (an order number, an intent id),
    so a second failure of the same step adds to the open row. Beat retries
    due rows with backoff; after the handler's attempt limit the row needs
    staff attention (admin) and is no longer retried on its own.
    """

    class Status(models.TextChoices):
        OPEN = "open"
        NEEDS_ATTENTION = "needs_attention"
        RESOLVED = "resolved"

    name = models.CharField(max_length=64, db_index=True)
    reference = models.CharField(max_length=128, blank=True, db_index=True)
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.OPEN
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=128, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["open", "needs_attention", "resolved"]),
                name="core_workflow_status_valid",
            )
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="open"),
                name="core_workflow_due",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.reference} ({self.status}, {self.attempts} attempts)"


WORKFLOW_TRANSITIONS: dict[str, set[str]] = {
    Workflow.Status.OPEN: {Workflow.Status.RESOLVED, Workflow.Status.NEEDS_ATTENTION},
    # Staff retry a row that ran out of attempts; success resolves it.
    Workflow.Status.NEEDS_ATTENTION: {Workflow.Status.RESOLVED},
}
