from decimal import Decimal
from typing import cast

from django import forms

from apps.core.money import to_minor
from apps.inventory import catalogue, images
from apps.inventory.models import ProductImage

PAGE_SIZES = (12, 24, 48, 100)
DEFAULT_PAGE_SIZE = PAGE_SIZES[0]
# Catalogue prices are in the shop's currency; the price filter is typed in it.
SHOP_CURRENCY = "USD"


class ProductSearchForm(forms.Form):
    """The list page's query string: search, filters, sort and page size."""

    q = forms.CharField(required=False, max_length=100, label="Search")
    category = forms.SlugField(required=False, max_length=140)
    sort = forms.ChoiceField(
        required=False, choices=list(catalogue.SORTS.items()), label="Sort by"
    )
    min_price = forms.DecimalField(
        required=False,
        min_value=Decimal(0),
        max_digits=10,
        decimal_places=2,
        label="Min price",
    )
    max_price = forms.DecimalField(
        required=False,
        min_value=Decimal(0),
        max_digits=10,
        decimal_places=2,
        label="Max price",
    )
    in_stock = forms.BooleanField(required=False, label="In stock only")
    size = forms.MultipleChoiceField(required=False, choices=[])
    colour = forms.MultipleChoiceField(required=False, choices=[])
    per_page = forms.TypedChoiceField(
        required=False,
        coerce=int,
        choices=[(n, str(n)) for n in PAGE_SIZES],
        empty_value=DEFAULT_PAGE_SIZE,  # type: ignore[arg-type]  # coerced int, not str
        label="Per page",
    )

    def __init__(self, *args, facets: dict[str, list[str]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        for name in catalogue.FACET_OPTIONS:
            field = cast(forms.MultipleChoiceField, self.fields[name])
            field.choices = [(v, v) for v in (facets or {}).get(name, [])]

    def filters(self) -> catalogue.ProductFilters:
        # A bad field (an unknown size, a negative price) is dropped; the
        # others still apply.
        self.is_valid()
        data = self.cleaned_data

        def minor(value: Decimal | None) -> int | None:
            return None if value is None else to_minor(value, SHOP_CURRENCY)

        return catalogue.ProductFilters(
            q=data.get("q") or "",
            category_slug=data.get("category") or "",
            min_price_minor=minor(data.get("min_price")),
            max_price_minor=minor(data.get("max_price")),
            in_stock=bool(data.get("in_stock")),
            options={
                name: tuple(data.get(name) or ()) for name in catalogue.FACET_OPTIONS
            },
            sort=data.get("sort") or "relevance",
        )

    def page_size(self) -> int:
        self.is_valid()
        return self.cleaned_data.get("per_page") or DEFAULT_PAGE_SIZE


class BackInStockForm(forms.Form):
    email = forms.EmailField(label="Email")
    sku = forms.ChoiceField(label="Option")

    def __init__(self, *args, variants=(), **kwargs):
        super().__init__(*args, **kwargs)
        sku = cast(forms.ChoiceField, self.fields["sku"])
        sku.choices = [(v.sku, v.display_title or v.sku) for v in variants]
        if len(sku.choices) == 1:
            sku.initial = sku.choices[0][0]


class ProductImageAdminForm(forms.ModelForm):
    """Admin inline form: the upload is checked by content, then resized once."""

    class Meta:
        model = ProductImage
        fields = ["image", "alt_text", "variant", "position"]

    def clean_image(self):
        upload = self.cleaned_data.get("image")
        # A new upload is an UploadedFile; an unchanged row keeps its FieldFile.
        if upload is not None and "image" in self.changed_data:
            images.product_image_validate(upload)
        return upload

    def save(self, commit=True):
        image = super().save(commit=commit)
        if commit and ("image" in self.changed_data or not image.renditions):
            images.product_image_renditions_refresh(image=image)
        return image
