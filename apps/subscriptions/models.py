"""Plans and prices that staff manage in admin; Stripe mirrors them (push state).

Money is integer minor units plus a currency. A price that a subscription has
used (``used_at`` set) is never edited in place: the service replaces it by a
new price and archives the old one, so existing subscribers keep their amount.
"""

import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.core.models import TimeStampedModel
from apps.core.state import StateMachine

# Usage counters and events live in their own module; importing them here
# registers them with the subscriptions app.
from apps.subscriptions.usage.models import (  # noqa: F401
    MeteredPrice,
    UsageCounter,
    UsageEvent,
    UsageOverageCharge,
    UsageWindow,
)


class PushStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SYNCED = "synced", "Synced"
    ERROR = "error", "Error"


class PushStateMixin(models.Model):
    """Where this row stands with Stripe; written only by the push service."""

    push_status = models.CharField(
        max_length=10, choices=PushStatus, default=PushStatus.PENDING
    )
    pushed_at = models.DateTimeField(null=True, blank=True)
    push_error = models.TextField(blank=True)

    class Meta:
        abstract = True


class Feature(TimeStampedModel):
    class Kind(models.TextChoices):
        BOOLEAN = "boolean", "Yes / no"
        NUMBER = "number", "Number"
        TEXT = "text", "Text"

    key = models.SlugField(max_length=50, unique=True)
    label = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    unit = models.CharField(max_length=30, blank=True)
    description = models.TextField(blank=True)
    sort_order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "key"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["boolean", "number", "text"]),
                name="subscriptions_feature_kind_valid",
            )
        ]

    def __str__(self) -> str:
        return self.label


class Plan(PushStateMixin, TimeStampedModel):
    class Visibility(models.TextChoices):
        PUBLIC = "public", "Public (on the pricing page)"
        PRIVATE = "private", "Private (direct link or staff assignment)"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        ARCHIVED = "archived", "Archived"

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    sort_order = models.PositiveIntegerField(default=0)
    visibility = models.CharField(
        max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.ACTIVE
    )
    trial_days = models.PositiveIntegerField(default=0)
    # {feature key: value}; validated against Feature rows by
    # services.plan_features_validate (admin form and services call it).
    features = models.JSONField(default=dict, blank=True)
    # Usage ceilings per metric, enforced by issue 14's counters:
    # {metric: {"per_day": int | None, "per_month": int | None}}; None is
    # unlimited. Validated by services.plan_limits_validate.
    limits = models.JSONField(default=dict, blank=True)
    # Our deterministic Stripe ids derive from this, unique across databases.
    stripe_reference = models.UUIDField(default=uuid.uuid4, editable=False, unique=True)
    stripe_product_id = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["sort_order", "slug"]
        constraints = [
            models.CheckConstraint(
                condition=Q(visibility__in=["public", "private"]),
                name="subscriptions_plan_visibility_valid",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["active", "archived"]),
                name="subscriptions_plan_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(push_status__in=["pending", "synced", "error"]),
                name="subscriptions_plan_push_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class PlanPrice(PushStateMixin, TimeStampedModel):
    class Interval(models.TextChoices):
        DAY = "day", "Day"
        WEEK = "week", "Week"
        MONTH = "month", "Month"
        YEAR = "year", "Year"

    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="prices")
    interval = models.CharField(max_length=5, choices=Interval.choices)
    interval_count = models.PositiveSmallIntegerField(default=1)
    amount_minor = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3, default="USD")
    active = models.BooleanField(default=True)
    # Set by the subscribe service (a later phase) the first time a
    # subscription uses this price; from then on the price is immutable.
    used_at = models.DateTimeField(null=True, blank=True)
    # The price this one replaced when staff edited a used price's amount.
    replaces = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # On real Stripe a Price id (price_…); on localstripe a Plan id (plan_…).
    stripe_reference = models.UUIDField(default=uuid.uuid4, editable=False, unique=True)
    stripe_price_id = models.CharField(max_length=255, blank=True)
    stripe_object = models.CharField(
        max_length=10, blank=True, help_text="'price' or 'plan' (localstripe)."
    )

    class Meta:
        ordering = ["plan__sort_order", "interval", "amount_minor"]
        constraints = [
            models.CheckConstraint(
                condition=Q(interval__in=["day", "week", "month", "year"]),
                name="subscriptions_planprice_interval_valid",
            ),
            models.CheckConstraint(
                condition=Q(interval_count__gte=1),
                name="subscriptions_planprice_interval_count_positive",
            ),
            models.CheckConstraint(
                condition=Q(amount_minor__gte=0),
                name="subscriptions_planprice_amount_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"),
                name="subscriptions_planprice_currency_iso",
            ),
            models.CheckConstraint(
                condition=Q(push_status__in=["pending", "synced", "error"]),
                name="subscriptions_planprice_push_status_valid",
            ),
        ]

    def __str__(self) -> str:
        every = (
            self.interval
            if self.interval_count == 1
            else f"{self.interval_count} {self.interval}s"
        )
        return f"{self.plan_id} {self.amount_minor} {self.currency}/{every}"

    @property
    def is_used(self) -> bool:
        return self.used_at is not None


# --- subscriptions, their history, invoices ----------------------------------


class Customer(TimeStampedModel):
    """The Stripe customer of a user, created once (the subscribe service)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    stripe_id = models.CharField(max_length=255, unique=True)

    def __str__(self) -> str:
        return self.stripe_id


class SubscriptionStatus(models.TextChoices):
    """Stripe's subscription statuses, stored unchanged."""

    INCOMPLETE = "incomplete"
    INCOMPLETE_EXPIRED = "incomplete_expired"
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    UNPAID = "unpaid"
    PAUSED = "paused"
    CANCELED = "canceled"


# A live subscription blocks another one for the same user; incomplete counts,
# so parallel subscribe requests collide on the constraint before any charge.
GRANTING_STATUSES = (SubscriptionStatus.TRIALING, SubscriptionStatus.ACTIVE)
LIVE_STATUSES = (
    SubscriptionStatus.INCOMPLETE,
    SubscriptionStatus.TRIALING,
    SubscriptionStatus.ACTIVE,
    SubscriptionStatus.PAST_DUE,
    SubscriptionStatus.UNPAID,
    SubscriptionStatus.PAUSED,
)


class Subscription(TimeStampedModel):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    price = models.ForeignKey(
        PlanPrice, on_delete=models.PROTECT, related_name="subscriptions"
    )
    status = models.CharField(
        max_length=20,
        choices=SubscriptionStatus,
        default=SubscriptionStatus.INCOMPLETE,
    )
    # Empty only between our row and Stripe's answer (the subscribe service).
    stripe_id = models.CharField(max_length=255, blank=True)
    # Read from the subscription item: Stripe moved the period there.
    current_period_start = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    trial_end = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    default_payment_method = models.CharField(max_length=255, blank=True)
    payment_method_label = models.CharField(max_length=100, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    # While past_due, access continues until this moment. Dunning sets it
    # when a renewal fails (its policy's grace days) and clears it on
    # recovery; empty while past_due means grace has not been decided yet,
    # which still grants (a failed charge must not lock anyone out at once).
    grace_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=SubscriptionStatus.values),
                name="subscriptions_subscription_status_valid",
            ),
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(status__in=LIVE_STATUSES),
                name="subscriptions_one_live_subscription_per_user",
            ),
            models.UniqueConstraint(
                fields=["stripe_id"],
                condition=~Q(stripe_id=""),
                name="subscriptions_subscription_stripe_id_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.stripe_id or f'#{self.pk}'} ({self.status})"

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES

    def grants_access(self, now: datetime) -> bool:
        """Whether the plan's features, limits and licence are the user's now.

        trialing and active grant; past_due grants within its grace period;
        everything else (unpaid, canceled, incomplete...) does not. The one
        definition entitlements and licences both follow.
        """
        if self.status in GRANTING_STATUSES:
            return True
        if self.status == SubscriptionStatus.PAST_DUE:
            return self.grace_until is None or now < self.grace_until
        return False


_S = SubscriptionStatus
# Stripe moves the status; the table is what Stripe's lifecycle allows, so a
# sync that meets anything else fails loudly instead of storing nonsense.
SUBSCRIPTION_STATES = StateMachine(
    model=Subscription,
    field="status",
    transitions={
        _S.INCOMPLETE: {
            _S.ACTIVE,
            _S.TRIALING,
            _S.PAST_DUE,
            _S.INCOMPLETE_EXPIRED,
            _S.CANCELED,
        },
        _S.TRIALING: {_S.ACTIVE, _S.PAST_DUE, _S.UNPAID, _S.PAUSED, _S.CANCELED},
        _S.ACTIVE: {_S.PAST_DUE, _S.UNPAID, _S.PAUSED, _S.TRIALING, _S.CANCELED},
        _S.PAST_DUE: {_S.ACTIVE, _S.UNPAID, _S.CANCELED},
        _S.UNPAID: {_S.ACTIVE, _S.PAST_DUE, _S.CANCELED},
        _S.PAUSED: {_S.ACTIVE, _S.TRIALING, _S.CANCELED},
    },
    name="subscription",
    stamps={_S.CANCELED: "ended_at"},
)


class SubscriptionEvent(models.Model):
    """One row of a subscription's history: a real change, never a replay."""

    subscription = models.ForeignKey(
        Subscription, on_delete=models.PROTECT, related_name="events"
    )
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20)
    reason = models.CharField(max_length=100)
    actor = models.CharField(
        max_length=100, help_text="user:<id>, staff:<id>, stripe or system."
    )
    amount_minor = models.BigIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [
            # Analytics finds the subscriptions that changed during a day.
            models.Index(fields=["created_at"], name="subscriptions_event_at"),
        ]

    def __str__(self) -> str:
        return f"{self.from_status or '-'} → {self.to_status} ({self.reason})"


class Invoice(TimeStampedModel):
    class Status(models.TextChoices):
        DRAFT = "draft"
        OPEN = "open"
        PAID = "paid"
        VOID = "void"
        UNCOLLECTIBLE = "uncollectible"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    subscription = models.ForeignKey(
        Subscription,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="invoices",
    )
    stripe_id = models.CharField(max_length=255, unique=True)
    number = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=15, choices=Status.choices)
    currency = models.CharField(max_length=3)
    subtotal_minor = models.BigIntegerField(default=0)
    discount_minor = models.PositiveBigIntegerField(default=0)
    tax_minor = models.BigIntegerField(default=0)
    total_minor = models.BigIntegerField(default=0)
    amount_due_minor = models.PositiveBigIntegerField(default=0)
    amount_paid_minor = models.PositiveBigIntegerField(default=0)
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    billing_reason = models.CharField(max_length=50, blank=True)
    payment_intent_id = models.CharField(max_length=255, blank=True)
    hosted_invoice_url = models.URLField(max_length=1000, blank=True)
    invoice_pdf = models.URLField(max_length=1000, blank=True)

    class Meta:
        ordering = ["-issued_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    status__in=["draft", "open", "paid", "void", "uncollectible"]
                ),
                name="subscriptions_invoice_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.number or self.stripe_id


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    stripe_id = models.CharField(max_length=255)
    description = models.CharField(max_length=500, blank=True)
    # Negative for proration credits ("Unused time on Starter").
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    quantity = models.PositiveIntegerField(default=1)
    proration = models.BooleanField(default=False)
    stripe_price_id = models.CharField(max_length=255, blank=True)
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice", "stripe_id"], name="subscriptions_invoiceline_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.description} {self.amount_minor} {self.currency}"


class ScheduledChange(TimeStampedModel):
    """A plan change due at the period end (downgrades), applied by beat."""

    class Status(models.TextChoices):
        PENDING = "pending"
        APPLIED = "applied"
        CANCELLED = "cancelled"
        FAILED = "failed"

    subscription = models.ForeignKey(
        Subscription, on_delete=models.PROTECT, related_name="scheduled_changes"
    )
    to_price = models.ForeignKey(PlanPrice, on_delete=models.PROTECT, related_name="+")
    due_at = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING
    )
    # A claim by the beat task: another run skips the row until it lapses.
    leased_until = models.DateTimeField(null=True, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["due_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "applied", "cancelled", "failed"]),
                name="subscriptions_scheduledchange_status_valid",
            ),
            models.UniqueConstraint(
                fields=["subscription"],
                condition=Q(status="pending"),
                name="subscriptions_one_pending_change_per_subscription",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subscription_id} → {self.to_price_id} at {self.due_at:%Y-%m-%d}"


SC = ScheduledChange.Status
SCHEDULED_CHANGE_STATES = StateMachine(
    model=ScheduledChange,
    field="status",
    name="scheduled change",
    transitions={
        SC.PENDING: {SC.APPLIED, SC.CANCELLED, SC.FAILED},
        SC.APPLIED: set(),
        SC.CANCELLED: set(),
        SC.FAILED: set(),
    },
    stamps={SC.APPLIED: "applied_at"},
)


# Licences and the guest flow live in their own module; importing them here
# registers them with the app.
from apps.subscriptions.licence_models import (  # noqa: E402, F401
    LICENCE_STATES,
    SUBSCRIBE_FLOW_STATES,
    LicenceDevice,
    LicenceKey,
    SubscribeFlow,
)

# Kept in its own module so this one stays small; imported for Django.
from apps.subscriptions.models_access import PlanAssignment  # noqa: E402, F401
from apps.subscriptions.models_reconcile import ReconcileRun  # noqa: E402, F401
