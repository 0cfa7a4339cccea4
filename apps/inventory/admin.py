"""Catalogue and stock admin. Stock changes only through the adjustment form
(a ledger row with a reason); reservations and the ledger are read-only."""

from django import forms
from django.contrib import admin, messages
from django.core.files.storage import default_storage
from django.db.models import Count, Exists, OuterRef, Sum
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from import_export.admin import ImportExportMixin
from import_export.formats.base_formats import CSV

from apps.core.exceptions import ApplicationError
from apps.core.forms import MoneyInputFormMixin
from apps.core.money import Money
from apps.inventory import images
from apps.inventory.admin_variants import (
    VariantGeneratorAdminMixin,
    option_field_names,
    option_names_for,
    with_option_fields,
)
from apps.inventory.forms import ProductImageAdminForm
from apps.inventory.models import (
    BackInStockSubscription,
    Category,
    Product,
    ProductImage,
    Reservation,
    StockItem,
    StockMovement,
    Variant,
)
from apps.inventory.resources import VariantResource
from apps.inventory.selectors import LOW_STOCK_THRESHOLD
from apps.inventory.services import stock_adjust


def _low_stock_variants():
    return Variant.objects.filter(track_stock=True, is_active=True).annotate(
        total=Coalesce(Sum("stock_items__on_hand"), 0)
    )


class LowStockFilter(admin.SimpleListFilter):
    title = "stock"
    parameter_name = "stock"

    def lookups(self, request, model_admin):
        return [
            ("low", f"Low (≤ {LOW_STOCK_THRESHOLD})"),
            ("out", "Out of stock"),
        ]

    def _variant_ids(self):
        limit = 0 if self.value() == "out" else LOW_STOCK_THRESHOLD
        return _low_stock_variants().filter(total__lte=limit).values("pk")

    def queryset(self, request, queryset):
        if self.value() not in ("low", "out"):
            return queryset
        if queryset.model is Product:
            return queryset.filter(
                Exists(self._variant_ids().filter(product=OuterRef("pk")))
            )
        return queryset.filter(pk__in=self._variant_ids())


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "parent", "position", "product_count")
    list_select_related = ("parent",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    autocomplete_fields = ("parent",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_products=Count("products"))

    @admin.display(description="Products", ordering="_products")
    def product_count(self, obj):
        return obj._products


class VariantAdminForm(MoneyInputFormMixin, forms.ModelForm):
    """Prices typed as 19.99 in the variant's own currency, stored in minor units."""

    money_fields = ("price_minor", "compare_at_price_minor")
    money_labels = {"compare_at_price_minor": "Compare-at price"}
    money_currency_owner = "variant"


class VariantInline(admin.TabularInline):
    """Compact: SKU, one field per option, price and stock; the rest (weight,
    backorder, limits) is on the variant's own page behind its change link."""

    model = Variant
    form = VariantAdminForm
    extra = 0
    readonly_fields = ("on_hand",)
    show_change_link = True

    def get_fields(self, request, obj=None):
        return (
            "sku",
            *option_field_names(option_names_for(obj)),
            "price_minor",
            "currency",
            "is_active",
            "position",
            "on_hand",
        )

    def get_formset(self, request, obj=None, **kwargs):
        kwargs["form"] = with_option_fields(self.form, option_names_for(obj))
        return super().get_formset(request, obj, **kwargs)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(_on_hand=Coalesce(Sum("stock_items__on_hand"), 0))
        )

    @admin.display(description="On hand")
    def on_hand(self, obj):
        if obj.pk is None:
            return "—"
        url = reverse("admin:inventory_variant_adjust_stock", args=[obj.pk])
        return format_html('{} · <a href="{}">adjust</a>', obj._on_hand, url)


class ProductImageInline(admin.TabularInline):
    """Pictures in upload order by position; the first is the main one."""

    model = ProductImage
    form = ProductImageAdminForm
    extra = 1
    fields = ("preview", "image", "alt_text", "variant", "position")
    readonly_fields = ("preview",)

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        # Only this product's variants can have their own picture.
        formset.form.base_fields["variant"].queryset = (  # type: ignore[attr-defined]  # a ModelChoiceField
            Variant.objects.filter(product=obj) if obj else Variant.objects.none()
        )
        return formset

    @admin.display(description="Preview")
    def preview(self, obj):
        rendition = images.image_fallback(obj, max_width=240) if obj.pk else None
        if rendition is None:
            return "—"
        return format_html(
            '<img src="{}" width="120" alt="">',
            default_storage.url(rendition["name"]),
        )


@admin.register(Product)
class ProductAdmin(VariantGeneratorAdminMixin, admin.ModelAdmin):
    list_display = (
        "title",
        "category",
        "product_type",
        "is_active",
        "variant_count",
        "on_hand",
    )
    list_filter = ("is_active", "category", "product_type", LowStockFilter)
    list_select_related = ("category", "product_type")
    search_fields = ("title", "slug", "variants__sku")
    prepopulated_fields = {"slug": ("title",)}
    autocomplete_fields = ("category",)
    inlines = [VariantInline, ProductImageInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                _variants=Count("variants", distinct=True),
                _on_hand=Coalesce(Sum("variants__stock_items__on_hand"), 0),
            )
        )

    @admin.display(description="Variants", ordering="_variants")
    def variant_count(self, obj):
        return obj._variants

    @admin.display(description="On hand", ordering="_on_hand")
    def on_hand(self, obj):
        return obj._on_hand


class StockAdjustmentForm(forms.Form):
    quantity_delta = forms.IntegerField(
        label="Change",
        help_text="Units to add (positive) or remove (negative).",
    )
    reason = forms.ChoiceField(
        choices=[
            ("", "— choose a reason —"),
            *[
                choice
                for choice in StockMovement.Reason.choices
                if choice[0] != StockMovement.Reason.SALE
            ],
        ]
    )
    reference = forms.CharField(
        max_length=255,
        required=False,
        help_text="Delivery note, stock-take id, RMA number…",
    )

    def clean_quantity_delta(self):
        value = self.cleaned_data["quantity_delta"]
        if value == 0:
            raise forms.ValidationError("Enter a change other than zero.")
        return value


@admin.register(Variant)
class VariantAdmin(ImportExportMixin, admin.ModelAdmin):
    form = VariantAdminForm
    resource_classes = [VariantResource]
    import_formats = [CSV]
    export_formats = [CSV]
    list_display = (
        "sku",
        "product",
        "display_title",
        "price",
        "on_hand",
        "track_stock",
        "allow_backorder",
        "is_active",
    )
    list_filter = ("is_active", "track_stock", "allow_backorder", LowStockFilter)
    list_select_related = ("product",)
    search_fields = ("sku", "product__title")
    autocomplete_fields = ("product",)
    readonly_fields = ("on_hand",)
    actions = ["adjust_stock_action"]

    def get_fields(self, request, obj=None):
        names = option_field_names(option_names_for(obj.product if obj else None))
        fields = [f for f in super().get_fields(request, obj) if f not in names]
        if obj is None:
            return fields
        # The product's options as fields in place of the raw JSON.
        at = fields.index("option_values")
        return [*fields[:at], *names, *fields[at + 1 :]]

    def get_form(self, request, obj=None, change=False, **kwargs):
        names = option_names_for(obj.product if obj else None)
        if obj is not None:
            kwargs["form"] = with_option_fields(self.form, names)
        return super().get_form(request, obj, change, **kwargs)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(_on_hand=Coalesce(Sum("stock_items__on_hand"), 0))
        )

    def get_export_queryset(self, request):
        return (
            super()
            .get_export_queryset(request)
            .select_related("product__category")
            .prefetch_related("stock_items")
        )

    @admin.display(description="Price", ordering="price_minor")
    def price(self, obj):
        return Money(obj.price_minor, obj.currency).format()

    @admin.display(description="On hand", ordering="_on_hand")
    def on_hand(self, obj):
        url = reverse("admin:inventory_variant_adjust_stock", args=[obj.pk])
        return format_html('{} · <a href="{}">adjust</a>', obj._on_hand, url)

    @admin.action(description="Adjust stock of the selected variant")
    def adjust_stock_action(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(
                request, "Select exactly one variant to adjust.", messages.WARNING
            )
            return None
        return redirect("admin:inventory_variant_adjust_stock", queryset.get().pk)

    def get_urls(self):
        return [
            path(
                "<int:variant_id>/adjust-stock/",
                self.admin_site.admin_view(self.adjust_stock_view),
                name="inventory_variant_adjust_stock",
            ),
            *super().get_urls(),
        ]

    def adjust_stock_view(self, request, variant_id):
        variant = get_object_or_404(
            self.get_queryset(request).select_related("product"), pk=variant_id
        )
        if not self.has_change_permission(request, variant):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        form = StockAdjustmentForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                movement = stock_adjust(
                    variant_id=variant.pk,
                    quantity_delta=form.cleaned_data["quantity_delta"],
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                    reference=form.cleaned_data["reference"],
                )
            except ApplicationError as exc:
                form.add_error("quantity_delta", exc.message)
            else:
                self.message_user(
                    request,
                    f"{variant.sku}: {movement.quantity:+d} ({movement.reason}); "
                    f"{movement.on_hand_after} on hand.",
                    messages.SUCCESS,
                )
                return redirect("admin:inventory_variant_change", variant.pk)
        movements = StockMovement.objects.filter(variant=variant).select_related(
            "actor"
        )[:20]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Adjust stock: {variant.sku}",
            "variant": variant,
            "on_hand": variant._on_hand,
            "form": form,
            "movements": movements,
        }
        return TemplateResponse(
            request, "inventory/admin/variant_adjust_stock.html", context
        )


@admin.register(StockItem)
class StockItemAdmin(admin.ModelAdmin):
    list_display = ("variant", "location", "on_hand", "updated_at")
    list_select_related = ("variant",)
    search_fields = ("variant__sku",)
    list_filter = ("location",)
    readonly_fields = ("variant", "location", "on_hand")

    def has_add_permission(self, request):
        return False


class _ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Reservation)
class ReservationAdmin(_ReadOnlyAdmin):
    list_display = (
        "ref",
        "variant",
        "quantity",
        "backordered_quantity",
        "status",
        "expires_at",
    )
    list_filter = ("status",)
    list_select_related = ("variant",)
    search_fields = ("ref", "variant__sku")


@admin.register(StockMovement)
class StockMovementAdmin(_ReadOnlyAdmin):
    list_display = (
        "created_at",
        "variant",
        "quantity",
        "on_hand_after",
        "reason",
        "actor",
        "reference",
    )
    list_filter = ("reason",)
    list_select_related = ("variant", "actor")
    search_fields = ("variant__sku", "reference")


@admin.register(BackInStockSubscription)
class BackInStockSubscriptionAdmin(admin.ModelAdmin):
    list_display = ("email", "variant", "user", "created_at", "sent_at")
    list_filter = (("sent_at", admin.EmptyFieldListFilter),)
    list_select_related = ("variant", "user")
    search_fields = ("email", "variant__sku")
    readonly_fields = ("sent_at",)
    raw_id_fields = ("variant", "user")
