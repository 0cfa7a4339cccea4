import datetime

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from apps.inventory.forms import DEFAULT_PAGE_SIZE as PAGE_SIZE
from apps.inventory.models import BackInStockSubscription
from apps.inventory.services import ReservationRequest, stock_reserve
from tests.inventory.factories import (
    CategoryFactory,
    ProductFactory,
    ProductImageFactory,
    VariantFactory,
)

pytestmark = pytest.mark.django_db

# option facets, count, page of products, their variants, their images, categories
LIST_QUERIES = 6
DETAIL_QUERIES = 4  # product+category, variants with availability, images, menu
SHIP_DATE = datetime.date(2031, 3, 14)


def _products(n, variants=1, images=0):
    """n products of ``variants`` variants each; every other product is sold
    out but backorderable, so pages also render ship dates."""
    category = CategoryFactory(slug="shirts", parent=CategoryFactory())
    products = []
    for i in range(n):
        product = ProductFactory(category=category)
        for _ in range(variants):
            if i % 2:
                VariantFactory(
                    product=product,
                    stock=0,
                    allow_backorder=True,
                    expected_ship_date=SHIP_DATE,
                )
            else:
                VariantFactory(product=product, stock=3)
        for _ in range(images):
            ProductImageFactory(product=product)
        products.append(product)
    return products


@pytest.mark.parametrize(
    ("count", "variants"),
    [(1, 1), (PAGE_SIZE + 1, 1), (1, 10), (PAGE_SIZE + 1, 10)],
    ids=[
        "1-product-1-variant",
        "more-than-a-page-1-variant-each",
        "1-product-10-variants",
        "more-than-a-page-10-variants-each",
    ],
)
def test_product_list_page_query_count_constant(
    client, django_assert_num_queries, count, variants
):
    _products(count, variants=variants)

    with django_assert_num_queries(LIST_QUERIES):
        response = client.get("/products/")

    assert response.status_code == 200
    cards = response.content.count(b'data-testid="product-card"')
    assert cards == min(count, PAGE_SIZE)
    if count > PAGE_SIZE:
        assert b"Page 1 of 2" in response.content
        assert b"expected to ship 14 Mar 2031" in response.content


@pytest.mark.parametrize(
    ("variants", "images"),
    [(1, 0), (10, 3)],
    ids=["1-variant-no-image", "10-variants-3-images"],
)
def test_product_detail_page_query_count_constant(
    client, django_assert_num_queries, variants, images
):
    [product] = _products(1, variants=variants, images=images)

    with django_assert_num_queries(DETAIL_QUERIES):
        response = client.get(f"/products/{product.slug}/")

    assert response.status_code == 200
    assert response.content.count(b"data-sku=") == variants
    assert response.content.count(b"<picture>") == images


def test_product_list_backorder_shows_expected_ship_date(client):
    VariantFactory(
        product__title="Roll-top Backpack",
        stock=0,
        allow_backorder=True,
        expected_ship_date=datetime.date(2031, 3, 14),
    )

    html = client.get("/products/").content.decode()

    assert "Backorder — expected to ship 14 Mar 2031" in html


def test_product_list_backorder_with_lead_time_shows_date_it_implies(client):
    VariantFactory(
        product__title="Made to Order Stool",
        stock=0,
        allow_backorder=True,
        backorder_lead_days=10,
    )

    with time_machine.travel(datetime.datetime(2030, 1, 5, 12, tzinfo=datetime.UTC)):
        html = client.get("/products/").content.decode()

    assert "Backorder — expected to ship 15 Jan 2030" in html


def test_product_list_backorder_shows_soonest_of_its_variants_dates(client):
    product = ProductFactory(title="Duffel")
    for day in (20, 9):
        VariantFactory(
            product=product,
            stock=0,
            allow_backorder=True,
            expected_ship_date=datetime.date(2031, 3, day),
        )

    html = client.get("/products/").content.decode()

    assert "Backorder — expected to ship 9 Mar 2031" in html


def test_product_list_backorder_without_known_date_says_backorder_only(client):
    VariantFactory(product__title="Someday Lamp", stock=0, allow_backorder=True)

    html = client.get("/products/").content.decode()

    assert '<span class="availability backorder">Backorder</span>' in html


def test_product_list_shows_price_and_availability(client):
    VariantFactory(product__title="Canvas Tote", price_minor=2450, stock=10)
    VariantFactory(product__title="Sold Out Cap", stock=0)

    response = client.get("/products/")

    html = response.content.decode()
    assert "Canvas Tote" in html
    assert "$24.50" in html
    assert "In stock" in html
    assert "Out of stock" in html


def test_product_list_filters_by_category_including_subcategories(client):
    parent = CategoryFactory(slug="clothing")
    child = CategoryFactory(slug="shirts", parent=parent)
    VariantFactory(product__title="Oxford Shirt", product__category=child, stock=1)
    VariantFactory(product__title="Desk Lamp", stock=1)

    html = client.get("/products/?category=clothing").content.decode()

    assert "Oxford Shirt" in html
    assert "Desk Lamp" not in html


def test_product_list_search_matches_title_and_sku(client):
    VariantFactory(product__title="Linen Apron", sku="APR-001", stock=1)
    VariantFactory(product__title="Wool Scarf", sku="SCF-777", stock=1)

    by_title = client.get("/products/?q=linen").content.decode()
    by_sku = client.get("/products/?q=scf-777").content.decode()

    assert "Linen Apron" in by_title
    assert "Wool Scarf" not in by_title
    assert "Wool Scarf" in by_sku
    assert "Linen Apron" not in by_sku


def test_product_list_paginates_and_bad_page_falls_back(client):
    _products(13)

    first = client.get("/products/")
    second = client.get("/products/?page=2")
    bad = client.get("/products/?page=abc")

    assert first.content.count(b'data-testid="product-card"') == 12
    assert second.content.count(b'data-testid="product-card"') == 1
    assert b"Page 1 of 2" in first.content
    assert bad.status_code == 200


def test_product_list_hides_inactive_products(client):
    VariantFactory(product__title="Hidden Thing", product__is_active=False, stock=3)

    assert b"Hidden Thing" not in client.get("/products/").content


def test_product_detail_availability_labels(client):
    product = ProductFactory()
    VariantFactory(product=product, title="Plenty", stock=50)
    VariantFactory(product=product, title="Few", stock=3)
    VariantFactory(
        product=product,
        title="Later",
        stock=0,
        allow_backorder=True,
        expected_ship_date=datetime.date(2031, 3, 14),
    )
    VariantFactory(product=product, title="Gone", stock=0)

    html = client.get(f"/products/{product.slug}/").content.decode()

    assert "In stock" in html
    assert "Only 3 left" in html
    assert "Available on backorder — expected to ship 14 Mar 2031" in html
    assert "Out of stock" in html
    assert "Notify me" in html
    assert 'action="/cart/add/"' in html


def test_product_detail_reserved_units_reduce_only_n_left(client):
    variant = VariantFactory(stock=4)
    stock_reserve(
        items=[ReservationRequest(variant.pk, 2)],
        ref="someone-else",
        ttl=datetime.timedelta(minutes=5),
    )

    html = client.get(f"/products/{variant.product.slug}/").content.decode()

    assert "Only 2 left" in html


def test_product_detail_unknown_slug_404(client):
    response = client.get("/products/nope/")

    assert response.status_code == 404


def test_product_notify_subscribes_and_redirects(client):
    variant = VariantFactory(stock=0)
    url = f"/products/{variant.product.slug}/notify/"

    response = client.post(url, {"sku": variant.sku, "email": "Guest@Example.com"})

    assert response.status_code == 302
    assert response["Location"] == f"/products/{variant.product.slug}/"
    subscription = BackInStockSubscription.objects.get()
    assert (subscription.variant, subscription.email) == (variant, "guest@example.com")
    follow = client.get(response["Location"])
    assert b"We will email Guest@Example.com once" in follow.content


def test_product_notify_bad_email_shows_error_next_to_field(client):
    variant = VariantFactory(stock=0)

    response = client.post(
        f"/products/{variant.product.slug}/notify/",
        {"sku": variant.sku, "email": "not-an-email"},
    )

    assert response.status_code == 400
    assert b"Enter a valid email address." in response.content
    assert not BackInStockSubscription.objects.exists()
    assert mail.outbox == []


def test_product_notify_signed_in_user_is_linked(client, django_user_model):
    user = django_user_model.objects.create_user(email="me@example.com")
    client.force_login(user)
    variant = VariantFactory(stock=0)

    client.post(
        f"/products/{variant.product.slug}/notify/",
        {"sku": variant.sku, "email": "me@example.com"},
    )

    assert BackInStockSubscription.objects.get().user == user


def test_expired_hold_no_longer_reduces_page_availability(client):
    variant = VariantFactory(stock=1)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        stock_reserve(
            items=[ReservationRequest(variant.pk, 1)],
            ref="c",
            ttl=datetime.timedelta(minutes=1),
        )
        assert (
            b"Out of stock" in client.get(f"/products/{variant.product.slug}/").content
        )
    with time_machine.travel(start + datetime.timedelta(minutes=2), tick=False):
        html = client.get(f"/products/{variant.product.slug}/").content

    assert b"Only 1 left" in html
