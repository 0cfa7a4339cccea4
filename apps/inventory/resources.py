"""CSV import/export of the catalogue: one row per variant, with its product,
category and on-hand stock.

Rows are validated in full before anything is saved (the admin always runs a
dry run first and only offers to confirm a file without errors). Stock levels
in the file are applied through ``stock_set`` so each change is a ledger row
with reason ``import``.
"""

from django.core.exceptions import ValidationError
from import_export import fields, resources, widgets

from apps.inventory.models import Category, Product, Variant
from apps.inventory.services import stock_set


class _OptionValuesWidget(widgets.JSONWidget):
    def clean(self, value, row=None, **kwargs):
        parsed = super().clean(value, row=row, **kwargs)
        if parsed is None:
            return {}
        if not isinstance(parsed, dict):
            raise ValueError('Option values must be a JSON object, e.g. {"size": "M"}.')
        return parsed


class VariantResource(resources.ModelResource):
    product_slug = fields.Field(
        column_name="product_slug", attribute="product__slug", readonly=True
    )
    product_title = fields.Field(
        column_name="product_title", attribute="product__title", readonly=True
    )
    category = fields.Field(
        column_name="category", attribute="product__category__slug", readonly=True
    )
    option_values = fields.Field(
        column_name="option_values",
        attribute="option_values",
        widget=_OptionValuesWidget(),
    )
    on_hand = fields.Field(column_name="on_hand", readonly=True)

    class Meta:
        model = Variant
        import_id_fields = ["sku"]
        fields = [
            "sku",
            "product_slug",
            "product_title",
            "category",
            "title",
            "option_values",
            "price_minor",
            "currency",
            "compare_at_price_minor",
            "weight_grams",
            "track_stock",
            "allow_backorder",
            "backorder_lead_days",
            "expected_ship_date",
            "max_per_order",
            "is_active",
            "on_hand",
        ]
        export_order = fields
        clean_model_instances = True
        skip_unchanged = False
        use_transactions = True

    # --- export --------------------------------------------------------------

    def get_queryset(self):
        return Variant.objects.select_related("product__category").prefetch_related(
            "stock_items"
        )

    def dehydrate_on_hand(self, variant):
        return sum(item.on_hand for item in variant.stock_items.all())

    # --- import --------------------------------------------------------------

    def import_instance(self, instance, row, **kwargs):
        errors: dict[str, list[ValidationError]] = {}
        try:
            super().import_instance(instance, row, **kwargs)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if instance.currency:
            instance.currency = instance.currency.upper()
        try:
            instance._import_product = self._resolve_product(instance, row)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        try:
            instance._import_on_hand = self._parse_on_hand(row)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)

    def _resolve_product(self, instance, row):
        """Return an existing Product, or an unsaved one to create on save."""
        slug = (row.get("product_slug") or "").strip()
        category_slug = (row.get("category") or "").strip()
        if not slug:
            raise ValidationError({"product_slug": "A product slug is required."})
        category = None
        if category_slug:
            category = Category.objects.filter(slug=category_slug).first()
            if category is None:
                raise ValidationError(
                    {"category": f"Unknown category “{category_slug}”."}
                )
        product = Product.objects.filter(slug=slug).first()
        if product is not None:
            if category is not None and product.category_id != category.pk:
                product.category = category
            return product
        title = (row.get("product_title") or "").strip()
        if not title or category is None:
            raise ValidationError(
                {
                    "product_title": (
                        "A new product needs product_title and a known category."
                    )
                }
            )
        return Product(slug=slug, title=title, category=category)

    def _parse_on_hand(self, row):
        raw = row.get("on_hand")
        if raw is None or str(raw).strip() == "":
            return None
        try:
            value = int(str(raw).strip())
        except ValueError:
            raise ValidationError({"on_hand": "Must be a whole number."}) from None
        if value < 0:
            raise ValidationError({"on_hand": "Stock cannot be negative."})
        return value

    def validate_instance(
        self, instance, import_validation_errors=None, validate_unique=True
    ):
        errors = dict(import_validation_errors or {})
        try:
            # The product may be new (saved just before the variant).
            instance.full_clean(
                exclude=[*errors.keys(), "product"], validate_unique=validate_unique
            )
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)

    def before_save_instance(self, instance, row, **kwargs):
        product = instance._import_product
        if product.pk is None:
            product.full_clean()
        product.save()
        instance.product = product

    def after_save_instance(self, instance, row, **kwargs):
        on_hand = getattr(instance, "_import_on_hand", None)
        if on_hand is None:
            return
        stock_set(
            variant_id=instance.pk,
            on_hand=on_hand,
            reason="import",
            actor=kwargs.get("user"),
            reference=f"CSV import {kwargs.get('file_name') or ''}".strip(),
        )
