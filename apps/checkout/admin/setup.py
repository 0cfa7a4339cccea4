"""Shipping, tax and checkouts."""

from django import forms
from django.contrib import admin

from apps.checkout.models import (
    Checkout,
    ShippingMethod,
    ShippingZone,
    TaxRate,
    TaxSettings,
    WeightBand,
)
from apps.core.admin_display import money_column, money_text
from apps.core.forms import MoneyInputFormMixin, MoneyInputInlineFormSet


class ShippingMethodAdminForm(MoneyInputFormMixin, forms.ModelForm):
    money_fields = ("price_minor", "free_over_minor")
    money_labels = {"free_over_minor": "Free over subtotal"}
    money_currency_owner = "method"


class WeightBandAdminForm(MoneyInputFormMixin, forms.ModelForm):
    """A band has no currency of its own: it prices in its method's currency."""

    money_fields = ("price_minor",)
    money_currency_field = None
    money_currency_owner = "shipping method"


class WeightBandInline(admin.TabularInline):
    model = WeightBand
    form = WeightBandAdminForm
    formset = MoneyInputInlineFormSet
    extra = 0


@admin.register(ShippingZone)
class ShippingZoneAdmin(admin.ModelAdmin):
    list_display = ("name", "countries")


@admin.register(ShippingMethod)
class ShippingMethodAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "zone",
        "rate_type",
        "price",
        "free_over",
        "min_delivery_days",
        "max_delivery_days",
        "is_active",
    )
    list_filter = ("rate_type", "is_active", "zone")
    list_select_related = ("zone",)
    form = ShippingMethodAdminForm
    inlines = [WeightBandInline]

    price = money_column("price_minor", "price", sort=True)

    @admin.display(description="free over", ordering="free_over_minor")
    def free_over(self, method):
        if method.free_over_minor is None:
            return "—"
        return money_text(method.free_over_minor, method.currency)


@admin.register(TaxRate)
class TaxRateAdmin(admin.ModelAdmin):
    list_display = ("name", "country", "region", "basis_points", "applies_to_shipping")
    list_filter = ("country",)


@admin.register(TaxSettings)
class TaxSettingsAdmin(admin.ModelAdmin):
    list_display = ("__str__", "prices_include_tax")


@admin.register(Checkout)
class CheckoutAdmin(admin.ModelAdmin):
    list_display = ("id", "email", "state", "created_at")
    list_filter = ("state",)
    readonly_fields = [f.name for f in Checkout._meta.fields]
    list_select_related = ("cart",)

    def has_add_permission(self, request):
        return False
