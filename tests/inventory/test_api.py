import pytest
from django.conf import settings

from tests.inventory.factories import (
    CategoryFactory,
    ProductFactory,
    ProductImageFactory,
    VariantFactory,
)

pytestmark = pytest.mark.django_db

LIST_QUERIES = 3  # count, page of products (+category), variants with availability
DETAIL_QUERIES = 3  # product (+category), variants with availability, images
API_PAGE_SIZE = settings.REST_FRAMEWORK["PAGE_SIZE"]


def _products(n, variants=1, images=0):
    # A nested category: its parent's slug is part of the payload.
    category = CategoryFactory(parent=CategoryFactory())
    products = []
    for _ in range(n):
        product = ProductFactory(category=category)
        for _ in range(variants):
            VariantFactory(product=product, stock=3)
        for _ in range(images):
            ProductImageFactory(product=product)
        products.append(product)
    return products


@pytest.mark.parametrize(
    ("count", "variants"),
    [(1, 1), (API_PAGE_SIZE + 1, 1), (1, 10), (API_PAGE_SIZE + 1, 10)],
    ids=[
        "1-product-1-variant",
        "more-than-a-page-1-variant-each",
        "1-product-10-variants",
        "more-than-a-page-10-variants-each",
    ],
)
def test_product_list_api_query_count_constant(
    api_client, django_assert_num_queries, count, variants
):
    _products(count, variants=variants)

    with django_assert_num_queries(LIST_QUERIES):
        response = api_client.get("/api/v1/products/")

    assert response.status_code == 200
    data = response.json()
    assert data["count"] == count
    assert len(data["results"]) == min(count, API_PAGE_SIZE)
    assert {len(p["variants"]) for p in data["results"]} == {variants}
    assert (data["next"] is not None) == (count > API_PAGE_SIZE)


@pytest.mark.parametrize(
    ("variants", "images"),
    [(1, 0), (10, 3)],
    ids=["1-variant-no-image", "10-variants-3-images"],
)
def test_product_detail_api_query_count_constant(
    api_client, django_assert_num_queries, variants, images
):
    [product] = _products(1, variants=variants, images=images)

    with django_assert_num_queries(DETAIL_QUERIES):
        response = api_client.get(f"/api/v1/products/{product.slug}/")

    assert response.status_code == 200
    assert len(response.json()["variants"]) == variants
    assert len(response.json()["images"]) == images


@pytest.mark.parametrize("count", [1, 30])
def test_category_list_api_query_count_constant(
    api_client, django_assert_num_queries, count
):
    parent = CategoryFactory()
    for _ in range(count):
        CategoryFactory(parent=parent)

    with django_assert_num_queries(1):
        response = api_client.get("/api/v1/categories/")

    assert len(response.json()) == count + 1


def test_product_detail_api_returns_money_and_availability(api_client):
    variant = VariantFactory(
        sku="MUG-BLUE",
        price_minor=1999,
        compare_at_price_minor=2499,
        option_values={"colour": "Blue"},
        stock=4,
        product__title="Enamel Mug",
        product__slug="enamel-mug",
        product__category__slug="kitchen",
    )
    VariantFactory(
        product=variant.product,
        sku="MUG-RED",
        stock=0,
        allow_backorder=True,
        backorder_lead_days=10,
    )

    data = api_client.get("/api/v1/products/enamel-mug/").json()

    assert data["title"] == "Enamel Mug"
    assert data["category"]["slug"] == "kitchen"
    blue, red = data["variants"]
    assert blue["sku"] == "MUG-BLUE"
    assert blue["price"] == {"amount": 1999, "currency": "USD"}
    assert blue["compare_at_price"] == {"amount": 2499, "currency": "USD"}
    assert blue["option_values"] == {"colour": "Blue"}
    assert (blue["available"], blue["backorder"], blue["purchasable"]) == (
        4,
        False,
        True,
    )
    assert (red["available"], red["backorder"], red["purchasable"]) == (0, True, True)
    assert blue["stock_tracked"] is True
    assert red["expected_ship_date"] is not None


def test_product_detail_api_untracked_variant_says_it_has_no_stock_limit(api_client):
    VariantFactory(
        sku="GIFT-50",
        track_stock=False,
        product__slug="gift-card",
    )

    (gift,) = api_client.get("/api/v1/products/gift-card/").json()["variants"]

    assert gift["stock_tracked"] is False
    assert gift["purchasable"] is True
    assert gift["status"] == "in_stock"
    assert gift["backorder"] is False


def test_product_list_api_filters_by_q_and_category(api_client):
    VariantFactory(product__title="Oak Board", product__category__slug="kitchen")
    VariantFactory(product__title="Oak Stool", product__category__slug="furniture")

    by_q = api_client.get("/api/v1/products/?q=stool").json()
    by_category = api_client.get("/api/v1/products/?category=kitchen").json()

    assert [p["title"] for p in by_q["results"]] == ["Oak Stool"]
    assert [p["title"] for p in by_category["results"]] == ["Oak Board"]


def test_product_api_is_public(api_client):
    VariantFactory(stock=1)

    assert api_client.get("/api/v1/products/").status_code == 200
    assert api_client.get("/api/v1/categories/").status_code == 200


def test_product_detail_api_unknown_slug_404_envelope(api_client):
    response = api_client.get("/api/v1/products/no-such-thing/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "product_not_found"


def test_product_detail_api_inactive_product_404(api_client):
    variant = VariantFactory(product__is_active=False)

    response = api_client.get(f"/api/v1/products/{variant.product.slug}/")

    assert response.status_code == 404


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("page=abc", 400, "validation_error"),
        ("page=0", 400, "validation_error"),
        ("page=999", 404, "not_found"),
        ("page=99999999999999999999", 404, "not_found"),
        ("page_size=abc", 200, None),
        ("q=" + "x" * 500, 400, "validation_error"),
        ("category=not%20a%20slug!", 400, "validation_error"),
    ],
)
def test_product_list_api_bad_input_returns_error_envelope(
    api_client, query, status, code
):
    VariantFactory(stock=1)

    response = api_client.get(f"/api/v1/products/?{query}")

    assert response.status_code == status
    if code:
        assert response.json()["error"]["code"] == code
