import hashlib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower

from apps.core.models import TimeStampedModel

# Kinds a subscription can take: Stripe coupons are percent or amount off.
SUBSCRIPTION_KINDS = ("percentage", "fixed_amount")


class Coupon(TimeStampedModel):
    """A discount code, for orders, subscriptions or both.

    Redemptions are counted when an order is placed or a subscription starts
    (or staff apply the coupon to one).
    """

    class Kind(models.TextChoices):
        PERCENTAGE = "percentage", "Percentage off"
        FIXED_AMOUNT = "fixed_amount", "Fixed amount off"
        FREE_SHIPPING = "free_shipping", "Free shipping"
        BUY_X_GET_Y = "buy_x_get_y", "Buy X get Y"

    class AppliesTo(models.TextChoices):
        ORDERS = "orders", "Orders"
        SUBSCRIPTIONS = "subscriptions", "Subscriptions"
        BOTH = "both", "Orders and subscriptions"

    class Duration(models.TextChoices):
        ONCE = "once", "Once (the first invoice)"
        REPEATING = "repeating", "Repeating (for a number of months)"
        FOREVER = "forever", "Forever"

    code = models.CharField(
        max_length=64, help_text="Case-insensitive; stored in upper case."
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    applies_to = models.CharField(
        max_length=16,
        choices=AppliesTo.choices,
        default=AppliesTo.ORDERS,
        help_text="Subscriptions take only percentage and fixed amount coupons.",
    )
    duration = models.CharField(
        max_length=16,
        choices=Duration.choices,
        default=Duration.ONCE,
        help_text="On a subscription: which invoices the discount applies to.",
    )
    duration_in_months = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Repeating only: months of discount."
    )
    value = models.PositiveIntegerField(
        default=0,
        help_text=(
            "Basis points for percentage and buy X get Y (10000 = 100%, free); "
            "minor units for a fixed amount; unused for free shipping."
        ),
    )
    currency = models.CharField(max_length=3, default="USD")
    minimum_subtotal_minor = models.PositiveBigIntegerField(default=0)
    maximum_discount_minor = models.PositiveBigIntegerField(null=True, blank=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    usage_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="Total redemptions allowed; empty = no limit."
    )
    per_customer_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="Redemptions per customer (user or email)."
    )
    times_redeemed = models.PositiveIntegerField(default=0, editable=False)
    is_first_order_only = models.BooleanField(default=False)
    is_combinable = models.BooleanField(default=True)
    priority = models.IntegerField(
        default=0, help_text="Higher priority coupons are applied first."
    )
    buy_quantity = models.PositiveSmallIntegerField(default=0)
    get_quantity = models.PositiveSmallIntegerField(default=0)
    include_products = models.ManyToManyField(
        "inventory.Product", blank=True, related_name="+"
    )
    include_variants = models.ManyToManyField(
        "inventory.Variant", blank=True, related_name="+"
    )
    include_categories = models.ManyToManyField(
        "inventory.Category", blank=True, related_name="+"
    )
    exclude_products = models.ManyToManyField(
        "inventory.Product", blank=True, related_name="+"
    )
    exclude_variants = models.ManyToManyField(
        "inventory.Variant", blank=True, related_name="+"
    )
    exclude_categories = models.ManyToManyField(
        "inventory.Category", blank=True, related_name="+"
    )
    generated_from = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="generated",
        help_text="The template coupon this single-use code was generated from.",
    )

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(
                Lower("code"), name="coupons_coupon_code_ci_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(
                    kind__in=[
                        "percentage",
                        "fixed_amount",
                        "free_shipping",
                        "buy_x_get_y",
                    ]
                ),
                name="coupons_coupon_kind_valid",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind__in=["percentage", "buy_x_get_y"])
                | models.Q(value__lte=10_000),
                name="coupons_coupon_percentage_at_most_100",
            ),
            models.CheckConstraint(
                condition=models.Q(usage_limit__isnull=True)
                | models.Q(times_redeemed__lte=models.F("usage_limit")),
                name="coupons_coupon_redeemed_within_limit",
            ),
            models.CheckConstraint(
                condition=models.Q(starts_at__isnull=True)
                | models.Q(ends_at__isnull=True)
                | models.Q(ends_at__gt=models.F("starts_at")),
                name="coupons_coupon_ends_after_start",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="buy_x_get_y")
                | models.Q(buy_quantity__gte=1, get_quantity__gte=1),
                name="coupons_coupon_bxgy_quantities",
            ),
            models.CheckConstraint(
                condition=models.Q(applies_to__in=["orders", "subscriptions", "both"]),
                name="coupons_coupon_applies_to_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    duration__in=["once", "forever"], duration_in_months__isnull=True
                )
                # isnull=False too: NULL >= 1 is unknown, which a CHECK passes.
                | models.Q(
                    duration="repeating",
                    duration_in_months__isnull=False,
                    duration_in_months__gte=1,
                ),
                name="coupons_coupon_duration_months",
            ),
            models.CheckConstraint(
                condition=models.Q(applies_to="orders")
                | models.Q(kind__in=SUBSCRIPTION_KINDS),
                name="coupons_coupon_subscription_kind",
            ),
        ]

    def __str__(self) -> str:
        return self.code

    def clean(self) -> None:
        self.code = (self.code or "").strip().upper()
        self.currency = (self.currency or "").upper()
        errors: dict[str, str] = {}
        if self.duration == self.Duration.REPEATING:
            if not self.duration_in_months:
                errors["duration_in_months"] = (
                    "A repeating coupon needs the number of months."
                )
        elif self.duration_in_months is not None:
            errors["duration_in_months"] = "Only a repeating coupon takes months."
        if self.applies_to != self.AppliesTo.ORDERS and (
            self.kind not in SUBSCRIPTION_KINDS
        ):
            errors["applies_to"] = (
                "Only percentage and fixed amount coupons apply to subscriptions."
            )
        if errors:
            raise ValidationError(errors)

    @property
    def is_for_orders(self) -> bool:
        return self.applies_to in (self.AppliesTo.ORDERS, self.AppliesTo.BOTH)

    @property
    def is_for_subscriptions(self) -> bool:
        return self.applies_to in (self.AppliesTo.SUBSCRIPTIONS, self.AppliesTo.BOTH)

    @property
    def stripe_coupon_id(self) -> str:
        """The Stripe coupon holding these terms (pushed when first used).

        Stripe coupons cannot change their terms, so the id names them: after
        an edit the next use pushes a new coupon, and subscriptions already
        discounted keep the old one.
        """
        months = self.duration_in_months or 0
        terms = f"{self.kind}-{self.value}-{self.currency}-{self.duration}-{months}"
        digest = hashlib.blake2b(terms.encode(), digest_size=5).hexdigest()
        return f"shop-{self.pk}-{digest}"


class CouponRedemption(models.Model):
    """One counted use of a coupon by one order or one subscription."""

    class Target(models.TextChoices):
        ORDER = "order", "Order"
        SUBSCRIPTION = "subscription", "Subscription"

    coupon = models.ForeignKey(
        Coupon, on_delete=models.PROTECT, related_name="redemptions"
    )
    target = models.CharField(
        max_length=16, choices=Target.choices, default=Target.ORDER
    )
    order_ref = models.CharField(
        max_length=64,
        help_text="The order number, or subscription-<id> for a subscription.",
    )
    customer_key = models.CharField(
        max_length=254, help_text="user:<id> or email:<address>, lower case."
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    email = models.EmailField(
        blank=True,
        db_index=True,
        help_text="The order's email, lower case: per-customer limits count a "
        "shopper once whether signed in or not.",
    )
    discount_minor = models.PositiveBigIntegerField(default=0)
    currency = models.CharField(max_length=3)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["coupon", "order_ref"], name="coupons_redemption_once_per_order"
            ),
            models.CheckConstraint(
                condition=models.Q(target__in=["order", "subscription"]),
                name="coupons_redemption_target_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["coupon", "customer_key"]),
            # A subscription's discount on a day (analytics, once per row).
            models.Index(
                fields=["order_ref", "created_at"], name="coupons_redemption_ref_at"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.coupon_id} → {self.order_ref}"


class StackingSettings(models.Model):
    """The one row of stacking rules, editable in admin."""

    max_coupons_per_order = models.PositiveSmallIntegerField(default=2)
    percentage_combines_with_fixed = models.BooleanField(default=False)
    multiple_percentage_combine = models.BooleanField(default=False)
    free_shipping_combines = models.BooleanField(default=True)

    class Meta:
        verbose_name = "stacking settings"
        verbose_name_plural = "stacking settings"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(pk=1), name="coupons_stacking_settings_singleton"
            ),
            models.CheckConstraint(
                condition=models.Q(max_coupons_per_order__gte=1),
                name="coupons_stacking_at_least_one",
            ),
        ]

    def __str__(self) -> str:
        return "Coupon stacking rules"
