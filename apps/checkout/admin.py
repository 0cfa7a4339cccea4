"""Staff screens for orders, shipping, tax and failed workflows.

Actions call services; money and status fields are read-only.
"""

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse

from apps.billing import selectors as billing_selectors
from apps.billing.models import INTENT_STATUSES
from apps.checkout import services
from apps.checkout.forms import FulfilForm
from apps.checkout.models import (
    Checkout,
    FailedWorkflow,
    Order,
    OrderEvent,
    OrderLine,
    ShippingMethod,
    ShippingZone,
    TaxRate,
    TaxSettings,
    WeightBand,
)
from apps.core.exceptions import ApplicationError
from apps.core.forms import MoneyInputFormMixin, MoneyInputInlineFormSet
from apps.core.money import Money


def _money(amount_minor: int | None, currency: str) -> str:
    return Money(int(amount_minor or 0), currency).format()


def money_column(
    field: str, description: str, *, currency_from: str = "currency", sort: bool = False
):
    """An admin column (or read-only field) showing ``field`` as money.

    ``currency_from`` is the dotted path to the row's currency ("order.currency"
    for a line, which has none of its own).
    """

    def column(self, obj) -> str:
        currency = obj
        for part in currency_from.split("."):
            currency = getattr(currency, part)
        return _money(getattr(obj, field), currency)

    return admin.display(description=description, ordering=field if sort else None)(
        column
    )


def _address(address: dict | None) -> str:
    """One line per part, as on an envelope (the admin shows each break as <br>)."""
    if not address:
        return "—"
    parts = [
        address.get("name"),
        address.get("line1"),
        address.get("line2"),
        " ".join(p for p in (address.get("city"), address.get("region")) if p),
        " ".join(p for p in (address.get("postal_code"), address.get("country")) if p),
        address.get("phone"),
    ]
    return "\n".join(p for p in parts if p)


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
        return _money(method.free_over_minor, method.currency)


@admin.register(TaxRate)
class TaxRateAdmin(admin.ModelAdmin):
    list_display = ("name", "country", "region", "basis_points", "applies_to_shipping")
    list_filter = ("country",)


@admin.register(TaxSettings)
class TaxSettingsAdmin(admin.ModelAdmin):
    list_display = ("__str__", "prices_include_tax")


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    can_delete = False
    fields = (
        "sku",
        "title",
        "quantity",
        "unit_price",
        "discount",
        "tax",
        "total",
        "backordered_quantity",
        "refunded_quantity",
        "refunded",
    )
    readonly_fields = fields

    unit_price = money_column(
        "unit_price_minor", "unit price", currency_from="order.currency"
    )
    discount = money_column(
        "discount_minor", "discount", currency_from="order.currency"
    )
    tax = money_column("tax_minor", "tax", currency_from="order.currency")
    total = money_column("total_minor", "total", currency_from="order.currency")
    refunded = money_column(
        "refunded_minor", "refunded", currency_from="order.currency"
    )

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order")

    def has_add_permission(self, request, obj=None):
        return False


class OrderEventInline(admin.TabularInline):
    model = OrderEvent
    extra = 0
    can_delete = False
    fields = (
        "created_at",
        "kind",
        "from_status",
        "to_status",
        "source",
        "actor",
        "message",
    )
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class RefundForm(forms.Form):
    restock = forms.BooleanField(required=False, label="Put the units back in stock")

    def __init__(self, *args, lines=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = list(lines)
        for line in self.lines:
            left = line.quantity - line.refunded_quantity
            self.fields[f"line_{line.pk}"] = forms.IntegerField(
                min_value=0,
                max_value=left,
                initial=0,
                required=False,
                label=f"{line.sku} (up to {left})",
            )

    def quantities(self) -> dict[int, int]:
        return {
            line.pk: self.cleaned_data.get(f"line_{line.pk}") or 0
            for line in self.lines
            if self.cleaned_data.get(f"line_{line.pk}")
        }


class PaymentStatusFilter(admin.SimpleListFilter):
    """Orders by the Stripe status of any of their payments."""

    title = "payment"
    parameter_name = "payment"

    def lookups(self, request, model_admin):
        return [(status, status.replace("_", " ")) for status in INTENT_STATUSES]

    def queryset(self, request, queryset):
        status = self.value()
        if status in INTENT_STATUSES:
            return queryset.filter(
                number__in=billing_selectors.payment_references_with_status(
                    status=status
                )
            )
        return queryset


_MONEY_FIELDS = (
    "subtotal",
    "discount",
    "shipping",
    "shipping_discount",
    "tax",
    "total",
    "refunded",
)


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = (
        "number",
        "email",
        "status",
        "total",
        "refunded",
        "created_at",
        "paid_at",
    )
    list_filter = (
        "status",
        PaymentStatusFilter,
        "created_at",
        "paid_at",
        "requires_shipping",
    )
    search_fields = ("number", "email")
    date_hierarchy = "created_at"
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "number",
                    "status",
                    "email",
                    "user",
                    "marketing_consent",
                    "checkout",
                    ("created_at", "paid_at", "fulfilled_at", "cancelled_at"),
                )
            },
        ),
        (
            "Money",
            {
                "fields": (
                    "currency",
                    *_MONEY_FIELDS,
                    "prices_include_tax",
                    "tax_lines",
                    "coupon_lines",
                )
            },
        ),
        (
            "Delivery",
            {
                "fields": (
                    "requires_shipping",
                    "shipping_method_name",
                    "shipping_to",
                    "billing_to",
                    ("carrier", "tracking_number"),
                )
            },
        ),
    )
    readonly_fields = [
        *(f.name for f in Order._meta.fields),
        *_MONEY_FIELDS,
        "shipping_to",
        "billing_to",
        "tax_lines",
        "coupon_lines",
    ]

    @admin.display(description="taxes")
    def tax_lines(self, order):
        lines = [
            f"{t.get('name', '')} {Decimal(int(t.get('basis_points', 0))) / 100}%: "
            f"{_money(t.get('amount_minor'), order.currency)}"
            for t in order.taxes or []
        ]
        return "\n".join(lines) or "—"

    @admin.display(description="coupons")
    def coupon_lines(self, order):
        lines = [
            f"{c.get('code', '')}: −{_money(c.get('discount_minor'), order.currency)}"
            for c in order.coupons or []
        ]
        return "\n".join(lines) or "—"

    subtotal = money_column("subtotal_minor", "subtotal")
    discount = money_column("discount_minor", "discount")
    shipping = money_column("shipping_minor", "shipping")
    shipping_discount = money_column("shipping_discount_minor", "shipping discount")
    tax = money_column("tax_minor", "tax")
    total = money_column("total_minor", "total", sort=True)
    refunded = money_column("refunded_minor", "refunded", sort=True)

    @admin.display(description="ship to")
    def shipping_to(self, order):
        return _address(order.shipping_address)

    @admin.display(description="bill to")
    def billing_to(self, order):
        return _address(order.billing_address)

    inlines = [OrderLineInline, OrderEventInline]
    actions = ["resend_confirmation", "refund_in_full"]
    change_form_template = "checkout/admin/order_change_form.html"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [
            path(
                "<int:order_id>/fulfil/",
                self.admin_site.admin_view(self.fulfil_view),
                name="checkout_order_fulfil",
            ),
            path(
                "<int:order_id>/refund/",
                self.admin_site.admin_view(self.refund_view),
                name="checkout_order_refund",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        from apps.billing.selectors import payments_for_references

        order = Order.objects.filter(pk=object_id).first()
        extra = {
            "payments": list(payments_for_references(references=[order.number]))
            if order
            else []
        }
        return super().change_view(
            request, object_id, form_url, {**(extra_context or {}), **extra}
        )

    def _order_for_change(self, request, order_id) -> Order:
        """The order a staff action changes: 403 without the order change
        permission (checked first, so existence does not leak), 404 for an
        unknown id."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        return get_object_or_404(Order, pk=order_id)

    def fulfil_view(self, request, order_id):
        order = self._order_for_change(request, order_id)
        form = FulfilForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                services.order_fulfil(
                    order=order, actor=request.user, **form.cleaned_data
                )
                self.message_user(request, f"Order {order.number} marked shipped.")
                return redirect(reverse("admin:checkout_order_change", args=[order.pk]))
            except ApplicationError as exc:
                form.add_error(None, exc.message)
        return render(
            request,
            "checkout/admin/order_action.html",
            {
                "form": form,
                "order": order,
                "title": "Mark fulfilled",
                "opts": self.model._meta,
            },
        )

    def refund_view(self, request, order_id):
        order = self._order_for_change(request, order_id)
        form = RefundForm(
            request.POST if request.method == "POST" else None, lines=order.lines.all()
        )
        if request.method == "POST" and form.is_valid():
            try:
                services.order_refund(
                    order=order,
                    actor=request.user,
                    request=request,
                    line_quantities=form.quantities() or None,
                    restock=form.cleaned_data["restock"],
                )
                self.message_user(request, f"Refund for {order.number} processed.")
                return redirect(reverse("admin:checkout_order_change", args=[order.pk]))
            except ApplicationError as exc:
                form.add_error(None, exc.message)
        return render(
            request,
            "checkout/admin/order_action.html",
            {
                "form": form,
                "order": order,
                "title": "Refund (leave all at 0 for a full refund)",
                "opts": self.model._meta,
            },
        )

    @admin.action(description="Resend the confirmation email")
    def resend_confirmation(self, request, queryset):
        for order in queryset:
            services.order_confirmation_send(order, resend=True)
        self.message_user(request, f"Queued {queryset.count()} confirmation(s).")

    @admin.action(description="Refund in full", permissions=["change"])
    def refund_in_full(self, request, queryset):
        for order in queryset:
            try:
                services.order_refund(order=order, actor=request.user, request=request)
            except ApplicationError as exc:
                self.message_user(
                    request, f"{order.number}: {exc.message}", level=messages.ERROR
                )


@admin.register(FailedWorkflow)
class FailedWorkflowAdmin(admin.ModelAdmin):
    list_display = ("step", "order", "status", "attempts", "updated_at")
    list_filter = ("status", "step")
    list_select_related = ("order",)
    readonly_fields = (
        "order",
        "step",
        "error",
        "attempts",
        "status",
        "payload",
        "resolved_at",
    )
    actions = ["retry"]

    @admin.action(description="Retry now", permissions=["change"])
    def retry(self, request, queryset):
        for workflow in queryset:
            workflow = services.failed_workflow_retry(workflow_id=workflow.pk)
            self.message_user(request, f"{workflow}: {workflow.status}")


@admin.register(Checkout)
class CheckoutAdmin(admin.ModelAdmin):
    list_display = ("id", "email", "state", "created_at")
    list_filter = ("state",)
    readonly_fields = [f.name for f in Checkout._meta.fields]
    list_select_related = ("cart",)

    def has_add_permission(self, request):
        return False
