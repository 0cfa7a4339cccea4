"""The variant generator: every combination once, SKUs unique, re-runs add
only what is missing."""

import pytest

from apps.core.exceptions import ValidationFailed
from apps.inventory.models import Variant
from apps.inventory.variant_generator import (
    product_base_price,
    variant_plan,
    variants_generate,
)
from tests.inventory.factories import ProductFactory, ProductTypeFactory, VariantFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def tee():
    tees = ProductTypeFactory(
        name="T-shirt",
        options={"size": ["S", "M", "L"], "colour": ["Black", "White"]},
    )
    return ProductFactory(title="Pocket Tee", slug="pocket-tee", product_type=tees)


def test_variants_generate_makes_every_combination_with_skus_and_price(tee):
    created = variants_generate(product_id=tee.pk, price_minor=2500, currency="eur")

    assert len(created) == 6
    rows = list(
        Variant.objects.filter(product=tee)
        .order_by("position")
        .values_list("sku", "option_values", "price_minor", "currency")
    )
    assert rows[0] == (
        "POCKET-TEE-S-BLACK",
        {"size": "S", "colour": "Black"},
        2500,
        "EUR",
    )
    assert [row[0] for row in rows] == [
        "POCKET-TEE-S-BLACK",
        "POCKET-TEE-S-WHITE",
        "POCKET-TEE-M-BLACK",
        "POCKET-TEE-M-WHITE",
        "POCKET-TEE-L-BLACK",
        "POCKET-TEE-L-WHITE",
    ]


def test_variants_generate_rerun_creates_no_duplicates(tee):
    variants_generate(product_id=tee.pk, price_minor=2500, currency="USD")

    again = variants_generate(product_id=tee.pk, price_minor=2500, currency="USD")

    assert again == []
    assert Variant.objects.filter(product=tee).count() == 6


def test_variants_generate_keeps_hand_made_variant_and_adds_the_rest(tee):
    VariantFactory(
        product=tee, sku="TEE-M-B", option_values={"size": "m ", "colour": "black"}
    )

    created = variants_generate(product_id=tee.pk, price_minor=2500, currency="USD")

    assert len(created) == 5
    assert {"size": "M", "colour": "Black"} not in [v.option_values for v in created]
    assert Variant.objects.filter(product=tee).count() == 6


def test_variants_generate_new_value_adds_only_its_combinations(tee):
    variants_generate(product_id=tee.pk, price_minor=2500, currency="USD")
    size = tee.product_type.options.get(name="size")
    size.values = [*size.values, "XL"]
    size.save()

    created = variants_generate(product_id=tee.pk, price_minor=2500, currency="USD")

    assert sorted(v.sku for v in created) == [
        "POCKET-TEE-XL-BLACK",
        "POCKET-TEE-XL-WHITE",
    ]


def test_variants_generate_sku_taken_by_other_product_gets_suffix(tee):
    VariantFactory(sku="POCKET-TEE-S-BLACK")

    created = variants_generate(product_id=tee.pk, price_minor=2500, currency="USD")

    assert created[0].sku == "POCKET-TEE-S-BLACK-2"
    assert len({v.sku for v in created}) == 6


def test_variants_generate_without_type_raises(db):
    product = ProductFactory()

    with pytest.raises(ValidationFailed) as exc:
        variants_generate(product_id=product.pk, price_minor=100, currency="USD")

    assert exc.value.code == "product_type_missing"
    assert not Variant.objects.filter(product=product).exists()


def test_variants_generate_type_without_values_raises(db):
    product = ProductFactory(product_type=ProductTypeFactory(options={"size": []}))

    with pytest.raises(ValidationFailed) as exc:
        variant_plan(product=product)

    assert exc.value.code == "product_type_has_no_options"


def test_product_base_price_is_cheapest_active_variant(tee):
    VariantFactory(product=tee, price_minor=3000, currency="EUR")
    VariantFactory(product=tee, price_minor=2000, currency="EUR")
    VariantFactory(product=tee, price_minor=500, currency="EUR", is_active=False)

    assert product_base_price(product=tee) == (2000, "EUR")
