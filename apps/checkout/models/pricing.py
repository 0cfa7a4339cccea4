"""Shipping and tax setup: zones, methods, weight bands, rates, settings."""

from django.db import models
from django.db.models import Q


class ShippingZone(models.Model):
    """A set of countries shipping methods serve."""

    name = models.CharField(max_length=120)
    countries = models.JSONField(
        default=list, help_text='ISO 3166-1 alpha-2 codes, e.g. ["FR", "DE"].'
    )

    def __str__(self) -> str:
        return self.name


class ShippingMethod(models.Model):
    class RateType(models.TextChoices):
        FLAT = "flat", "Flat rate"
        WEIGHT = "weight", "By weight bands"
        FREE_OVER = "free_over", "Flat, free over a subtotal"

    zone = models.ForeignKey(
        ShippingZone, on_delete=models.CASCADE, related_name="methods"
    )
    name = models.CharField(max_length=120)
    rate_type = models.CharField(
        max_length=16, choices=RateType.choices, default=RateType.FLAT
    )
    price_minor = models.PositiveBigIntegerField(default=0)
    currency = models.CharField(max_length=3, default="USD")
    free_over_minor = models.PositiveBigIntegerField(null=True, blank=True)
    min_delivery_days = models.PositiveSmallIntegerField(default=2)
    max_delivery_days = models.PositiveSmallIntegerField(default=5)
    is_active = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rate_type__in=["flat", "weight", "free_over"]),
                name="checkout_shippingmethod_rate_type_valid",
            ),
            models.CheckConstraint(
                condition=~Q(rate_type="free_over") | Q(free_over_minor__isnull=False),
                name="checkout_shippingmethod_free_over_has_threshold",
            ),
            models.CheckConstraint(
                condition=Q(min_delivery_days__lte=models.F("max_delivery_days")),
                name="checkout_shippingmethod_delivery_days_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.zone})"


class WeightBand(models.Model):
    """Price for parcels up to ``max_weight_grams`` (weight-rated methods)."""

    method = models.ForeignKey(
        ShippingMethod, on_delete=models.CASCADE, related_name="weight_bands"
    )
    max_weight_grams = models.PositiveIntegerField()
    price_minor = models.PositiveBigIntegerField()

    class Meta:
        ordering = ["max_weight_grams"]
        constraints = [
            models.UniqueConstraint(
                fields=["method", "max_weight_grams"],
                name="checkout_weightband_unique",
            )
        ]

    def __str__(self) -> str:
        return f"≤ {self.max_weight_grams} g: {self.price_minor}"


class TaxRate(models.Model):
    """A tax rate for a country, or one region of it (region beats country)."""

    country = models.CharField(max_length=2)
    region = models.CharField(max_length=128, blank=True)
    name = models.CharField(max_length=64)
    basis_points = models.PositiveIntegerField(help_text="2000 = 20 %")
    applies_to_shipping = models.BooleanField(default=True)

    class Meta:
        ordering = ["country", "region", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["country", "region", "name"], name="checkout_taxrate_unique"
            ),
            models.CheckConstraint(
                condition=Q(basis_points__lte=10_000),
                name="checkout_taxrate_bp_lte_100pct",
            ),
        ]

    def __str__(self) -> str:
        where = f"{self.country}-{self.region}" if self.region else self.country
        return f"{self.name} {self.basis_points / 100:g}% ({where})"


class TaxSettings(models.Model):
    """The one row of store tax settings, editable in admin."""

    prices_include_tax = models.BooleanField(
        default=False, help_text="Catalogue prices already contain tax."
    )

    class Meta:
        verbose_name_plural = "tax settings"

    def __str__(self) -> str:
        return "Tax settings"
