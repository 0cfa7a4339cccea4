import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.inventory.factories import (
    CategoryFactory,
    ProductFactory,
    ProductImageFactory,
    VariantFactory,
)

pytestmark = pytest.mark.django_db


def _cards(response) -> int:
    return response.content.count(b'data-testid="product-card"')


def test_search_word_only_in_description_finds_product(client):
    ProductFactory(title="Heavy Hoodie", description="Brushed fleece, very warm.")
    ProductFactory(title="Canvas Tote", description="Natural canvas.")
    VariantFactory.reset_sequence()

    response = client.get("/products/", {"q": "fleece"})

    assert b"Heavy Hoodie" in response.content
    assert b"Canvas Tote" not in response.content


def test_search_by_category_name_and_sku(client):
    mugs = CategoryFactory(name="Kitchenware")
    VariantFactory(product__title="Enamel Mug", product__category=mugs, sku="MUG-1")
    VariantFactory(product__title="Wool Beanie", sku="HAT-9")

    assert b"Enamel Mug" in client.get("/products/", {"q": "kitchenware"}).content
    found = client.get("/products/", {"q": "HAT-9"}).content
    assert b"Wool Beanie" in found
    assert b"Enamel Mug" not in found


@pytest.mark.postgres
def test_search_one_letter_typo_finds_product_on_postgres(client):
    ProductFactory(title="Heavy Hoodie", description="Brushed fleece.")
    ProductFactory(title="Canvas Tote")

    response = client.get("/products/", {"q": "hodie"})

    assert b"Heavy Hoodie" in response.content
    assert b"Canvas Tote" not in response.content


def test_search_no_result_suggests_categories(client):
    CategoryFactory(name="Kitchen")
    response = client.get("/products/", {"q": "zzzzqqq"})
    suggestions = response.content.split(b'data-testid="suggested-categories"')[1]
    assert b"Kitchen" in suggestions


def _catalogue(count: int):
    category = CategoryFactory()
    for i in range(count):
        product = ProductFactory(category=category)
        VariantFactory(product=product, stock=i % 3, option_values={"size": "M"})
        VariantFactory(product=product, stock=1, option_values={"size": "L"})
        ProductImageFactory(product=product)


@pytest.mark.parametrize("per_page", [12, 100])
def test_product_list_query_count_constant_in_page_size(
    client, django_assert_num_queries, per_page
):
    _catalogue(100)
    # facets, count, products, variants, images, category menu
    with django_assert_num_queries(6):
        response = client.get("/products/", {"per_page": per_page})
    assert _cards(response) == per_page


def test_product_list_out_of_range_page_redirects_to_last_keeping_filters(client):
    _catalogue(13)
    response = client.get("/products/", {"page": 9, "size": "M"})
    assert response.status_code == 302
    assert "page=2" in response["Location"]
    assert "size=M" in response["Location"]


def test_product_list_pagination_links_keep_filters(client):
    _catalogue(13)
    response = client.get("/products/", {"size": "L", "sort": "newest"})
    assert b"size=L&amp;sort=newest&amp;page=2" in response.content


def test_product_list_filters_by_price_option_and_stock(client):
    cheap = VariantFactory(
        product__title="Cheap Tee",
        price_minor=1000,
        stock=0,
        option_values={"size": "S"},
    )
    VariantFactory(
        product__title="Dear Tee",
        price_minor=9000,
        stock=4,
        option_values={"size": "M"},
    )

    def titles(**query):
        content = client.get("/products/", query).content
        return {t for t in ("Cheap Tee", "Dear Tee") if t.encode() in content}

    assert titles(max_price="20.00") == {"Cheap Tee"}
    assert titles(min_price="50") == {"Dear Tee"}
    assert titles(size="S") == {"Cheap Tee"}
    assert titles(in_stock="on") == {"Dear Tee"}
    assert cheap.product.title == "Cheap Tee"


def test_product_list_sorts_by_price(client):
    VariantFactory(product__title="Middle", price_minor=5000)
    VariantFactory(product__title="Lowest", price_minor=1000)
    VariantFactory(product__title="Highest", price_minor=9000)
    html = client.get("/products/", {"sort": "price_desc"}).content.decode()
    assert html.index("Highest") < html.index("Middle") < html.index("Lowest")
    html = client.get("/products/", {"sort": "price_asc"}).content.decode()
    assert html.index("Lowest") < html.index("Middle") < html.index("Highest")


def test_home_shows_featured_products_and_categories(client):
    CategoryFactory(name="Decor")
    VariantFactory(product__title="Star Vase", product__is_featured=True)
    response = client.get("/")
    assert response.status_code == 200
    assert b"Star Vase" in response.content
    assert b"Decor" in response.content


@pytest.mark.parametrize("url", ["/products/", "/products/{slug}/", "/"])
def test_anonymous_catalogue_page_cached_hit_costs_at_most_one_query(client, url):
    variant = VariantFactory(stock=3, price_minor=1500)
    url = url.format(slug=variant.product.slug)
    first = client.get(url)
    assert first.status_code == 200

    with CaptureQueriesContext(connection) as queries:
        again = client.get(url)

    assert len(queries) <= 1
    assert again.content.count(b"$15.00") == first.content.count(b"$15.00") > 0


def test_cached_product_page_changes_when_price_changes(client):
    variant = VariantFactory(stock=3, price_minor=1500)
    url = f"/products/{variant.product.slug}/"
    assert b"$15.00" in client.get(url).content
    variant.price_minor = 1700
    variant.save(update_fields=["price_minor"])
    page = client.get(url).content
    assert b"$17.00" in page
    assert b"$15.00" not in page


def test_cached_product_page_changes_when_stock_sells_out(client):
    from apps.inventory.services import stock_set

    variant = VariantFactory(stock=3)
    url = f"/products/{variant.product.slug}/"
    assert b"Add to cart" in client.get(url).content
    stock_set(variant_id=variant.pk, on_hand=0, reason="adjustment")
    assert b"Add to cart" not in client.get(url).content


def test_cached_page_gives_each_visitor_a_working_csrf_token(client):
    from django.test import Client

    variant = VariantFactory(stock=3)
    url = f"/products/{variant.product.slug}/"
    client.get(url)
    other = Client(enforce_csrf_checks=True)
    page = other.get(url).content.decode()
    assert "__CSRF_TOKEN_PLACEHOLDER__" not in page
    token = page.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    response = other.post(
        "/cart/add/", {"csrfmiddlewaretoken": token, "sku": variant.sku, "quantity": 1}
    )
    assert response.status_code == 302


def _warm(client, *urls: str) -> list[bytes]:
    """Serve each page once so the next request could be a cache hit."""
    pages = [client.get(url).content for url in urls]
    for url in urls:
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        assert len(queries) <= 1, f"{url} is not served from the cache"
    return pages


def test_cached_product_and_list_pages_change_when_product_is_renamed(client):
    variant = VariantFactory(stock=3, product__title="Old Mug")
    product = variant.product
    urls = ("/products/", f"/products/{product.slug}/")
    for page in _warm(client, *urls):
        assert b"Old Mug" in page

    product.title = "Stoneware Mug"
    product.save(update_fields=["title"])

    for url in urls:
        page = client.get(url).content
        assert b"Stoneware Mug" in page, url
        assert b"Old Mug" not in page, url


def test_cached_product_and_search_pages_change_when_description_changes(client):
    variant = VariantFactory(stock=3, product__description="Glazed by hand.")
    product = variant.product
    detail, search = f"/products/{product.slug}/", "/products/?q=speckled"
    product_page, search_page = _warm(client, detail, search)
    assert b"Glazed by hand." in product_page
    assert search_page.count(b'data-testid="product-card"') == 0

    product.description = "A speckled glaze, fired twice."
    product.save(update_fields=["description"])

    page = client.get(detail).content
    assert b"A speckled glaze, fired twice." in page
    assert b"Glazed by hand." not in page
    assert _cards(client.get(search)) == 1


def _rendition(name: str) -> list[dict]:
    return [{"name": f"products/r/{name}-240.webp", "width": 240, "height": 240}]


def test_cached_product_and_list_pages_show_a_newly_added_image(client):
    variant = VariantFactory(stock=3)
    urls = ("/products/", f"/products/{variant.product.slug}/")
    for page in _warm(client, *urls):
        assert b"first-photo" not in page

    ProductImageFactory(product=variant.product, renditions=_rendition("first-photo"))

    for url in urls:
        assert b"products/r/first-photo-240.webp" in client.get(url).content, url


def test_cached_product_and_list_pages_change_when_an_image_is_replaced(client):
    variant = VariantFactory(stock=3)
    image = ProductImageFactory(
        product=variant.product, renditions=_rendition("old-photo")
    )
    urls = ("/products/", f"/products/{variant.product.slug}/")
    for page in _warm(client, *urls):
        assert b"products/r/old-photo-240.webp" in page

    # What product_image_renditions_refresh saves after a new upload.
    image.renditions = _rendition("new-photo")
    image.save(update_fields=["renditions"])

    for url in urls:
        page = client.get(url).content
        assert b"products/r/new-photo-240.webp" in page, url
        assert b"old-photo" not in page, url


def test_cached_product_page_changes_when_an_image_is_uploaded_through_the_service(
    client, settings, tmp_path
):
    import io

    from PIL import Image

    from apps.inventory.images import product_image_add

    settings.MEDIA_ROOT = tmp_path
    variant = VariantFactory(stock=3)
    url = f"/products/{variant.product.slug}/"
    (before,) = _warm(client, url)
    assert b"<picture>" not in before

    buffer = io.BytesIO()
    Image.new("RGB", (800, 600), (200, 80, 40)).save(buffer, "JPEG")
    buffer.seek(0)
    product_image_add(
        product_id=variant.product_id, file=buffer, filename="kiln.jpg", alt_text="x"
    )

    page = client.get(url).content
    assert b"<picture>" in page
    assert b"kiln" in page
