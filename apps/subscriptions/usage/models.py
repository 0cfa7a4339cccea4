"""Usage counters (the limit's truth) and raw usage events (history).

Imported by ``apps.subscriptions.models`` so Django registers them in the
subscriptions app.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class UsageWindow(models.TextChoices):
    DAY = "day", "Day"
    MONTH = "month", "Month"


class UsageCounter(models.Model):
    """How much of a metric a user used in one day or month window.

    Written only by one conditional upsert (usage.record), so the limit holds
    under concurrency: the row lock serialises writers and the WHERE refuses
    an increment past the limit.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    metric = models.CharField(max_length=50)
    # "window" is a reserved word in PostgreSQL's SQL.
    window_kind = models.CharField(max_length=5, choices=UsageWindow)
    # The window's first instant (midnight or the 1st, customer's timezone).
    window_start = models.DateTimeField()
    used = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "metric", "window_kind", "window_start"],
                name="subscriptions_usagecounter_one_per_window",
            ),
            models.CheckConstraint(
                condition=Q(window_kind__in=["day", "month"]),
                name="subscriptions_usagecounter_window_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.metric} {self.window_kind} {self.window_start:%Y-%m-%d}"


class UsageEvent(models.Model):
    """One accepted usage record; a refused one is never stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    metric = models.CharField(max_length=50)
    quantity = models.PositiveIntegerField()
    idempotency_key = models.CharField(max_length=255)
    # "api" (the user's own client) or "batch:<service key prefix>".
    source = models.CharField(max_length=50)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "idempotency_key"],
                name="subscriptions_usageevent_key_unique_per_user",
            ),
            models.CheckConstraint(
                condition=Q(quantity__gte=1),
                name="subscriptions_usageevent_quantity_positive",
            ),
        ]
        indexes = [
            models.Index(
                fields=["user", "metric", "created_at"],
                name="subs_usageevent_user_metric",
            ),
            # The pruning job deletes by age alone.
            models.Index(fields=["created_at"], name="subs_usageevent_created"),
        ]

    def __str__(self) -> str:
        return f"{self.metric} ×{self.quantity}"


class MeteredPrice(models.Model):
    """A plan's price for a metric beyond an included quantity (overage).

    Billed per block of ``block_size`` units started (1: per unit), in the
    subscription price's currency. A metric the plan hard-limits (a day or
    month limit set) is never billed, whatever this says.
    """

    plan = models.ForeignKey(
        "subscriptions.Plan", on_delete=models.CASCADE, related_name="metered_prices"
    )
    metric = models.CharField(max_length=50)
    included = models.PositiveBigIntegerField(default=0)
    block_size = models.PositiveIntegerField(default=1)
    block_amount_minor = models.PositiveBigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "metric"], name="subscriptions_meteredprice_unique"
            ),
            models.CheckConstraint(
                condition=Q(block_size__gte=1),
                name="subscriptions_meteredprice_block_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.metric} beyond {self.included}"


class UsageOverageCharge(models.Model):
    """Overage of one metric in one billing period, pushed to Stripe once."""

    subscription = models.ForeignKey(
        "subscriptions.Subscription",
        on_delete=models.PROTECT,
        related_name="overage_charges",
    )
    metric = models.CharField(max_length=50)
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    used = models.PositiveBigIntegerField()
    billed_units = models.PositiveBigIntegerField()
    amount_minor = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3)
    # Empty until Stripe answered; a retry reuses the row's idempotency key.
    stripe_invoice_item_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-period_start", "metric"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "metric", "period_start"],
                name="subscriptions_overage_once_per_period",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.metric} {self.billed_units} units {self.amount_minor}"
