import pytest
from django.core.management import call_command

from apps.inventory.models import Category, Product, StockItem, StockMovement, Variant
from apps.inventory.selectors import variant_availability_map

pytestmark = pytest.mark.django_db


def test_seed_catalogue_twice_leaves_same_rows_and_stock():
    call_command("seed_catalogue", stdout=None)
    counts = (
        Category.objects.count(),
        Product.objects.count(),
        Variant.objects.count(),
        StockMovement.objects.count(),
    )
    stock = dict(StockItem.objects.values_list("variant__sku", "on_hand"))

    call_command("seed_catalogue")

    assert counts[1] >= 20
    assert (
        Category.objects.count(),
        Product.objects.count(),
        Variant.objects.count(),
        StockMovement.objects.count(),
    ) == counts
    assert dict(StockItem.objects.values_list("variant__sku", "on_hand")) == stock


def test_seed_catalogue_has_low_backorder_and_out_of_stock_items():
    call_command("seed_catalogue")

    availability = variant_availability_map(
        variant_ids=Variant.objects.values_list("pk", flat=True)
    ).values()
    statuses = {a.status for a in availability}

    assert {"in_stock", "low_stock", "backorder", "out_of_stock"} <= statuses
    assert set(Variant.objects.values_list("currency", flat=True)) == {"USD"}


def test_seed_catalogue_gives_each_product_pictures_with_renditions(settings):
    from pathlib import Path

    from apps.inventory.models import Product, ProductImage

    call_command("seed_catalogue")
    call_command("seed_catalogue")  # pictures are made once, not again

    assert ProductImage.objects.count() == 2 * Product.objects.count()
    image = ProductImage.objects.order_by("pk").first()
    assert (image.width, image.height) == (1200, 900)
    assert [r["width"] for r in image.renditions] == [240, 480, 800, 1200]
    assert (Path(settings.MEDIA_ROOT) / image.renditions[0]["name"]).exists()
    assert Product.objects.filter(is_featured=True).count() == 4
