"""Derived, replaceable rows: every table here is rebuilt from other apps' data.

Nothing outside analytics reads them, and the nightly job deletes and
re-inserts a day's rows, so they carry no history of their own
(DEFINITIONS.md says what each figure means).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class MovementKind(models.TextChoices):
    NEW = "new", "New"
    REACTIVATION = "reactivation", "Reactivation"
    EXPANSION = "expansion", "Expansion"
    CONTRACTION = "contraction", "Contraction"
    CHURN = "churn", "Churn"


class ComputedDay(models.Model):
    """A day the job has computed completely (its rows are all present)."""

    day = models.DateField(primary_key=True)
    computed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d}"


class DailySubscriptionSnapshot(models.Model):
    """A live subscription at the end of a day: one a customer (one live each).

    The foreign keys have no database constraint: PostgreSQL checks each one
    per inserted row at commit, four lookups and row locks a row, and a
    year's backfill at the benchmark's size inserts ~14 M rows (half its
    time went there). Every row is computed by a join to the rows it names,
    in the transaction that inserts it, and Django's CASCADE still deletes
    the rows with them.
    """

    day = models.DateField()
    subscription = models.ForeignKey(
        "subscriptions.Subscription",
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
    )
    price = models.ForeignKey(
        "subscriptions.PlanPrice",
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
    )
    plan = models.ForeignKey(
        "subscriptions.Plan",
        null=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
    )
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20)
    cancel_at_period_end = models.BooleanField(default=False)
    mrr_minor = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["day", "subscription_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["day", "subscription"], name="analytics_snapshot_unique"
            ),
            models.CheckConstraint(
                condition=Q(mrr_minor__gte=0), name="analytics_snapshot_mrr_gte_0"
            ),
        ]
        indexes = [models.Index(fields=["day", "user"])]

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d} sub {self.subscription_id}: {self.mrr_minor}"


class MrrMovement(models.Model):
    """How one customer's MRR in one currency changed from the day before."""

    day = models.DateField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    currency = models.CharField(max_length=3)
    kind = models.CharField(max_length=12, choices=MovementKind)
    # Signed: churn and contraction are negative.
    amount_minor = models.BigIntegerField()
    mrr_before_minor = models.BigIntegerField()
    mrr_after_minor = models.BigIntegerField()

    class Meta:
        ordering = ["day", "currency", "user_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["day", "user", "currency"], name="analytics_movement_unique"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=MovementKind.values),
                name="analytics_movement_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(
                    amount_minor=models.F("mrr_after_minor")
                    - models.F("mrr_before_minor")
                ),
                name="analytics_movement_amount_is_difference",
            ),
        ]
        indexes = [
            models.Index(fields=["day", "currency", "kind"]),
            # Cohorts look up each customer's first "new" movement.
            models.Index(
                fields=["user", "currency", "day"],
                condition=Q(kind="new"),
                name="analytics_movement_first_new",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d} {self.kind} {self.amount_minor} {self.currency}"


class DailyMetrics(models.Model):
    """Every daily figure of one currency (DEFINITIONS.md)."""

    day = models.DateField()
    currency = models.CharField(max_length=3)
    # Subscriptions, at the end of the day.
    mrr_minor = models.BigIntegerField(default=0)
    mrr_at_risk_minor = models.BigIntegerField(default=0)
    scheduled_churn_minor = models.BigIntegerField(default=0)
    paying_customers = models.PositiveIntegerField(default=0)
    trialing_customers = models.PositiveIntegerField(default=0)
    # Movements of the day (signed sums).
    new_minor = models.BigIntegerField(default=0)
    reactivation_minor = models.BigIntegerField(default=0)
    expansion_minor = models.BigIntegerField(default=0)
    contraction_minor = models.BigIntegerField(default=0)
    churn_minor = models.BigIntegerField(default=0)
    net_new_minor = models.BigIntegerField(default=0)
    new_customers = models.PositiveIntegerField(default=0)
    reactivated_customers = models.PositiveIntegerField(default=0)
    churned_customers = models.PositiveIntegerField(default=0)
    # Commerce.
    orders = models.PositiveIntegerField(default=0)
    paid_orders = models.PositiveIntegerField(default=0)
    gmv_minor = models.BigIntegerField(default=0)
    discounts_minor = models.BigIntegerField(default=0)
    shipping_minor = models.BigIntegerField(default=0)
    tax_minor = models.BigIntegerField(default=0)
    refunds_minor = models.BigIntegerField(default=0)
    net_revenue_minor = models.BigIntegerField(default=0)
    aov_minor = models.BigIntegerField(default=0)
    units = models.PositiveIntegerField(default=0)
    checkouts_started = models.PositiveIntegerField(default=0)
    conversion_bp = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name_plural = "daily metrics"
        ordering = ["day", "currency"]
        constraints = [
            models.UniqueConstraint(
                fields=["day", "currency"], name="analytics_dailymetrics_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d} {self.currency}"


class CohortMonth(models.Model):
    """A monthly cohort (month of first payment) k months later."""

    cohort_month = models.DateField(help_text="First day of the cohort's month.")
    currency = models.CharField(max_length=3)
    months_since = models.PositiveSmallIntegerField()
    customers_start = models.PositiveIntegerField()
    mrr_start_minor = models.BigIntegerField()
    customers_retained = models.PositiveIntegerField()
    mrr_retained_minor = models.BigIntegerField()
    measured_on = models.DateField(help_text="The day whose snapshot was read.")

    class Meta:
        ordering = ["cohort_month", "currency", "months_since"]
        constraints = [
            models.UniqueConstraint(
                fields=["cohort_month", "currency", "months_since"],
                name="analytics_cohort_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.cohort_month:%Y-%m} {self.currency} +{self.months_since}"


class ExchangeRate(models.Model):
    """1 unit of ``currency`` = ``rate`` units of ``reporting_currency`` on a day."""

    day = models.DateField()
    currency = models.CharField(max_length=3)
    reporting_currency = models.CharField(max_length=3)
    # A rate, not money: Decimal at the edge, rounded once when converting.
    rate = models.DecimalField(max_digits=18, decimal_places=8)
    source = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["-day", "currency"]
        constraints = [
            models.UniqueConstraint(
                fields=["day", "currency", "reporting_currency"],
                name="analytics_exchangerate_unique",
            ),
            models.CheckConstraint(
                condition=Q(rate__gt=0), name="analytics_exchangerate_positive"
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.day:%Y-%m-%d} 1 {self.currency} = {self.rate} "
            f"{self.reporting_currency}"
        )
