"""Catalogue pages in a real browser at desktop and phone widths."""

import io
import re

import pytest
from PIL import Image

from apps.inventory.images import PHONE_MAX_WIDTH, product_image_add
from tests.browser.checks import problems_at_each_width
from tests.inventory.factories import CategoryFactory, VariantFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _jpeg(width: int, height: int) -> io.BytesIO:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (40, 90, 160)).save(buffer, "JPEG")
    buffer.seek(0)
    return buffer


@pytest.fixture
def catalogue():
    tees = CategoryFactory(name="T-shirts", slug="t-shirts")
    tee = VariantFactory(
        product__title="Pocket Tee",
        product__slug="pocket-tee",
        product__category=tees,
        product__description="Relaxed fit with a chest pocket, garment dyed.",
        product__is_featured=True,
        option_values={"colour": "Navy", "size": "M"},
        stock=1,
    )
    VariantFactory(
        product=tee.product, option_values={"colour": "Navy", "size": "L"}, stock=4
    )
    for index in range(2):
        product_image_add(
            product_id=tee.product_id,
            file=_jpeg(3000, 2000),
            filename=f"tee-{index}.jpg",
            alt_text=f"Pocket Tee, view {index + 1}",
            position=index,
        )
    return tee


def test_storefront_pages_fit_the_screen_and_pass_axe(page, live_server, catalogue):
    problems = []
    for url in (
        "/",
        "/products/?category=t-shirts&size=M&sort=price_asc",
        "/products/?q=garment",
        "/products/?q=nothing-matches-this",
        "/products/pocket-tee/",
    ):
        page.goto(url)
        problems += problems_at_each_width(page)
    assert problems == []
    assert page.get_by_text("Pocket Tee").first.is_visible()

    # The search for a word only in the description found the product.
    page.goto("/products/?q=garment")
    assert page.get_by_test_id("product-card").count() == 1


def test_too_many_of_the_last_unit_keeps_the_choices_and_fits(
    page, live_server, catalogue
):
    page.goto("/products/pocket-tee/")
    page.locator(f"label[for='sku-{catalogue.pk}']").click()
    page.fill("#id_quantity", "3")
    page.get_by_role("button", name="Add to cart").click()
    page.wait_for_load_state()
    assert "Only 1 of Pocket Tee — Navy, M available." in page.content()
    assert page.locator(f"#sku-{catalogue.pk}").is_checked()
    assert page.input_value("#id_quantity") == "3"
    assert problems_at_each_width(page) == []


def test_product_page_on_a_phone_loads_at_most_800px_picture(
    browser, live_server, catalogue
):
    # A 3x screen would pick a 1200 px copy if it were offered.
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=3,
        base_url=live_server.url,
    )
    try:
        page = context.new_page()
        page.goto("/products/pocket-tee/")
        current = page.evaluate(
            "document.querySelector('.product-main-image').currentSrc"
        )
    finally:
        context.close()
    width = int(re.search(r"-(\d+)w\.webp$", current).group(1))
    assert width == PHONE_MAX_WIDTH
