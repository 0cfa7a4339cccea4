"""Make a product's variants from its type's options (S, M, L × Black, White).

Re-running is safe: a combination that already has a variant is left alone,
so adding a value to an option and generating again adds only the new ones.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from django.db import transaction
from django.utils.text import slugify

from apps.inventory.exceptions import VariantGenerationRefused
from apps.inventory.models import Product, ProductOption, Variant

SKU_MAX_LENGTH = 64


@dataclass(frozen=True, slots=True)
class PlannedVariant:
    """One combination of option values, and whether a variant already has it."""

    option_values: dict[str, str]
    sku: str
    exists: bool

    @property
    def label(self) -> str:
        return " / ".join(self.option_values.values())


def _options(product: Product) -> list[ProductOption]:
    if product.product_type_id is None:
        raise VariantGenerationRefused(
            "Choose a product type before generating variants.",
            code="product_type_missing",
        )
    options = [
        option
        for option in ProductOption.objects.filter(
            product_type_id=product.product_type_id
        )
        if option.values
    ]
    if not options:
        raise VariantGenerationRefused(
            "The product type has no option values to combine.",
            code="product_type_has_no_options",
        )
    return options


def _key(option_values: dict, names: list[str]) -> tuple[str, ...]:
    # Compared by the type's options only, ignoring case and spacing, so a
    # variant typed in by hand as {"size": "m "} still counts as M.
    return tuple(str(option_values.get(name, "")).strip().lower() for name in names)


def _sku_base(product: Product, values: tuple[str, ...]) -> str:
    return slugify("-".join([product.slug, *values])).upper()[:SKU_MAX_LENGTH]


def variant_plan(*, product: Product) -> list[PlannedVariant]:
    """Every combination of the type's option values, in the options' order.

    Raise VariantGenerationRefused when the product has no type or its type no values.
    """
    options = _options(product)
    names = [option.name for option in options]
    existing = {
        _key(values or {}, names): sku
        for values, sku in product.variants.values_list("option_values", "sku")
    }
    plan = []
    for combination in itertools.product(*(option.values for option in options)):
        values = tuple(str(value) for value in combination)
        option_values = dict(zip(names, values, strict=True))
        key = _key(option_values, names)
        plan.append(
            PlannedVariant(
                option_values=option_values,
                sku=existing.get(key) or _sku_base(product, values),
                exists=key in existing,
            )
        )
    return plan


def _free_sku(base: str, taken: set[str]) -> str:
    """``base``, or ``base-2``, ``base-3``… the first no variant anywhere uses."""
    sku, suffix = base, 2
    while sku in taken or Variant.objects.filter(sku=sku).exists():
        tail = f"-{suffix}"
        sku = base[: SKU_MAX_LENGTH - len(tail)] + tail
        suffix += 1
    return sku


@transaction.atomic
def variants_generate(
    *, product_id: int, price_minor: int, currency: str
) -> list[Variant]:
    """Create the product's missing variants at ``price_minor`` and return them.

    New variants start with no stock. A generated SKU already used by another
    product gets a numeric suffix. Raise VariantGenerationRefused when the product has
    no type or its type no values; Product.DoesNotExist when it is gone.
    """
    # The product row lock serialises two staff generating at once, so the
    # second sees the first's variants and creates no duplicates.
    product = Product.objects.select_for_update().get(pk=product_id)
    plan = [planned for planned in variant_plan(product=product) if not planned.exists]
    if not plan:
        return []
    taken: set[str] = set()
    last = product.variants.order_by("-position").values_list("position", flat=True)
    position = last.first() or 0
    created = []
    for planned in plan:
        sku = _free_sku(planned.sku, taken)
        taken.add(sku)
        position += 1
        variant = Variant(
            product=product,
            sku=sku,
            option_values=planned.option_values,
            price_minor=price_minor,
            currency=currency.upper(),
            position=position,
        )
        variant.full_clean()
        variant.save()
        created.append(variant)
    return created


def product_base_price(*, product: Product) -> tuple[int, str] | None:
    """The price new variants start from: the product's cheapest active variant."""
    variant = (
        product.variants.filter(is_active=True)
        .order_by("price_minor", "pk")
        .values_list("price_minor", "currency")
        .first()
    )
    return (variant[0], variant[1]) if variant else None
