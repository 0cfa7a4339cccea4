"""Plans and prices that staff manage in admin; Stripe mirrors them (push state).

Money is integer minor units plus a currency. A price that a subscription has
used (``used_at`` set) is never edited in place: the service replaces it by a
new price and archives the old one, so existing subscribers keep their amount.
"""

import uuid

from django.db import models
from django.db.models import Q

from apps.core.models import TimeStampedModel


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
