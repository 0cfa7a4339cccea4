"""seed_catalogue: idempotent, every stock situation, pictures made once.

One test seeds twice and checks all of it: each seed makes ~40 pictures with
renditions, seconds of CPU that separate tests would pay again and again.
"""

from pathlib import Path

import pytest
from django.core.management import call_command

from apps.inventory.models import (
    Category,
    Product,
    ProductImage,
    StockItem,
    StockMovement,
    Variant,
)
from apps.inventory.selectors import variant_availability_map

pytestmark = pytest.mark.django_db


def _counts() -> tuple[int, ...]:
    return (
        Category.objects.count(),
        Product.objects.count(),
        Variant.objects.count(),
        StockMovement.objects.count(),
        ProductImage.objects.count(),
    )


def test_seed_catalogue_twice_same_rows_stock_and_pictures(settings):
    call_command("seed_catalogue", stdout=None)
    counts = _counts()
    stock = dict(StockItem.objects.values_list("variant__sku", "on_hand"))

    call_command("seed_catalogue")  # pictures are made once, not again

    assert counts[1] >= 20
    assert _counts() == counts
    assert dict(StockItem.objects.values_list("variant__sku", "on_hand")) == stock

    availability = variant_availability_map(
        variant_ids=Variant.objects.values_list("pk", flat=True)
    ).values()
    assert {"in_stock", "low_stock", "backorder", "out_of_stock"} <= {
        a.status for a in availability
    }
    assert set(Variant.objects.values_list("currency", flat=True)) == {"USD"}

    assert ProductImage.objects.count() == 2 * Product.objects.count()
    image = ProductImage.objects.order_by("pk").first()
    assert (image.width, image.height) == (1200, 900)
    assert [r["width"] for r in image.renditions] == [240, 480, 800, 1200]
    assert (Path(settings.MEDIA_ROOT) / image.renditions[0]["name"]).exists()
    assert Product.objects.filter(is_featured=True).count() == 4
