"""Product types, option fields on variants, and the variant generator page.

Staff never type JSON: a type's option values are a comma-separated field,
and each variant shows one field per option of its product.
"""

from typing import TYPE_CHECKING, Any, ClassVar

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from apps.core.exceptions import ApplicationError
from apps.core.forms import MoneyInputFormMixin
from apps.inventory.models import Product, ProductOption, ProductType
from apps.inventory.variant_generator import (
    product_base_price,
    variant_plan,
    variants_generate,
)

OPTION_PREFIX = "option_"

if TYPE_CHECKING:
    _FormBase = forms.ModelForm
    _AdminBase = admin.ModelAdmin
else:
    _FormBase = object
    _AdminBase = object


# --- product types -----------------------------------------------------------


class ProductOptionForm(forms.ModelForm):
    values = forms.CharField(
        required=False,
        help_text="Comma-separated, in the order shoppers see them: S, M, L.",
        widget=forms.TextInput(attrs={"size": 40}),
    )

    class Meta:
        model = ProductOption
        fields = ("name", "values", "position")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["values"] = ", ".join(self.instance.values or [])

    def clean_name(self) -> str:
        return self.cleaned_data["name"].strip().lower()

    def clean_values(self) -> list[str]:
        values: list[str] = []
        for raw in self.cleaned_data["values"].split(","):
            value = raw.strip()
            if value and value.lower() not in {v.lower() for v in values}:
                values.append(value)
        return values


class ProductOptionInline(admin.TabularInline):
    model = ProductOption
    form = ProductOptionForm
    extra = 2


@admin.register(ProductType)
class ProductTypeAdmin(admin.ModelAdmin):
    list_display = ("name", "option_summary")
    search_fields = ("name",)
    inlines = [ProductOptionInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("options")

    @admin.display(description="Options")
    def option_summary(self, obj: ProductType) -> str:
        return "; ".join(str(option) for option in obj.options.all())


# --- option values as fields on a variant ------------------------------------


def option_names_for(product: Product | None) -> list[str]:
    """The options a product's variants are edited by.

    Its type's options; for a product without a type, the keys its variants
    already carry, so their values stay editable.
    """
    if product is None or product.pk is None:
        return []
    if product.product_type_id is not None:
        return list(
            ProductOption.objects.filter(
                product_type_id=product.product_type_id
            ).values_list("name", flat=True)
        )
    names: list[str] = []
    for values in product.variants.values_list("option_values", flat=True):
        names.extend(key for key in (values or {}) if key not in names)
    return names


class VariantOptionsFormMixin(_FormBase):
    """Edit ``option_values`` through one text field per option name."""

    option_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        current = self.instance.option_values or {}
        for name in self.option_names:
            self.initial.setdefault(OPTION_PREFIX + name, current.get(name, ""))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        # Keys outside the product's options are kept: another type's values
        # are not lost by editing the price.
        values = dict(self.instance.option_values or {})
        for name in self.option_names:
            value = (cleaned.get(OPTION_PREFIX + name) or "").strip()
            if value:
                values[name] = value
            else:
                values.pop(name, None)
        self.instance.option_values = values
        return cleaned


def with_option_fields(form: type[forms.ModelForm], names: list[str]) -> type:
    """``form`` plus one field per option name, saved into ``option_values``."""
    attrs: dict[str, Any] = {
        OPTION_PREFIX + name: forms.CharField(
            label=name.capitalize(),
            required=False,
            max_length=60,
            widget=forms.TextInput(attrs={"size": 8}),
        )
        for name in names
    }
    attrs["option_names"] = tuple(names)
    return type(f"{form.__name__}WithOptions", (VariantOptionsFormMixin, form), attrs)


def option_field_names(names: list[str]) -> list[str]:
    return [OPTION_PREFIX + name for name in names]


# --- the generator page --------------------------------------------------------


class VariantGenerateForm(MoneyInputFormMixin, forms.Form):
    """The price every new variant starts at, in currency units."""

    money_fields = ("price_minor",)
    money_labels = {"price_minor": "Price"}
    money_currency_owner = "variant"

    price_minor = forms.IntegerField(min_value=0)
    currency = forms.CharField(max_length=3, min_length=3, initial="USD")

    def clean_currency(self) -> str:
        return self.cleaned_data["currency"].upper()


class VariantGeneratorAdminMixin(_AdminBase):
    """Adds /<id>/generate-variants/: a preview (GET) and a confirmed POST."""

    def get_urls(self):
        return [
            path(
                "<int:product_id>/generate-variants/",
                self.admin_site.admin_view(self.generate_variants_view),
                name="inventory_product_generate_variants",
            ),
            *super().get_urls(),
        ]

    def generate_variants_view(self, request, product_id: int):
        product = get_object_or_404(
            Product.objects.select_related("product_type"), pk=product_id
        )
        if not self.has_change_permission(request, product):
            raise PermissionDenied
        base = product_base_price(product=product)
        initial = {"price_minor": base[0], "currency": base[1]} if base else {}
        form = VariantGenerateForm(request.POST or None, initial=initial)
        change_url = reverse("admin:inventory_product_change", args=[product.pk])
        try:
            plan = variant_plan(product=product)
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return redirect(change_url)
        if request.method == "POST" and form.is_valid():
            try:
                created = variants_generate(
                    product_id=product.pk,
                    price_minor=form.cleaned_data["price_minor"],
                    currency=form.cleaned_data["currency"],
                )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(
                    request,
                    f"{len(created)} variant{'s' if len(created) != 1 else ''} "
                    f"created for {product.title}"
                    + (f": {', '.join(v.sku for v in created)}." if created else "."),
                    messages.SUCCESS,
                )
                return redirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Generate variants: {product.title}",
            "product": product,
            "form": form,
            "plan": plan,
            "new_count": sum(1 for planned in plan if not planned.exists),
        }
        return TemplateResponse(
            request, "admin/inventory/product/generate_variants.html", context
        )
