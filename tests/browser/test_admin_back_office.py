"""Staff back office in a real browser at desktop and phone widths: the
dashboard and the variant generator fit the screen and pass axe-core."""

import pytest
from django.utils import timezone

from apps.inventory.models import Variant
from tests.accounts.factories import PASSWORD, UserFactory
from tests.billing.factories import PaymentFactory, RefundFactory
from tests.checkout.factories import OrderFactory
from tests.inventory.factories import ProductFactory, ProductTypeFactory, VariantFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWPORTS = [1280, 390]


@pytest.fixture
def staff_page(page):
    staff = UserFactory(is_staff=True, is_superuser=True)
    page.goto("/admin/login/")
    page.fill("input[name=username]", staff.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")
    return page


@pytest.fixture
def shop():
    OrderFactory(paid=True, paid_at=timezone.now(), lines=2)
    OrderFactory(paid=True, paid_at=timezone.now(), currency="EUR")
    VariantFactory(
        product__title="A product with a rather long name for a phone screen",
        sku="LOW-STOCK-VARIANT-WITH-A-LONG-SKU",
        stock=1,
    )
    PaymentFactory(declined=True, last_error="Your card has insufficient funds.")
    RefundFactory(amount_minor=700)
    tees = ProductTypeFactory(
        name="T-shirt", options={"size": ["S", "M", "L"], "colour": ["Black", "White"]}
    )
    tee = ProductFactory(title="Pocket Tee", slug="pocket-tee", product_type=tees)
    VariantFactory(product=tee, price_minor=2500, currency="USD", stock=3)
    return tee


def _no_horizontal_overflow(page) -> None:
    width, inner = page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert width <= inner, f"{page.url}: scrollWidth {width} > innerWidth {inner}"


def _serious_violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    assert results.response["passes"], "axe-core did not run"
    return [
        f"{page.url}: {v['id']} ({v['impact']}) {v['help']}"
        for v in results.response["violations"]
        if v["impact"] in {"serious", "critical"}
    ]


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_admin_dashboard_fits_and_passes_axe(staff_page, shop, viewport):
    page = staff_page
    page.set_viewport_size({"width": viewport, "height": 900})
    page.goto("/admin/")

    dashboard = page.get_by_test_id("dashboard")
    assert dashboard.is_visible()
    text = dashboard.inner_text()
    assert "$25.00" in text
    assert "LOW-STOCK-VARIANT-WITH-A-LONG-SKU" in text
    assert "insufficient funds" in text
    assert page.get_by_test_id("dashboard-charts").is_visible()
    _no_horizontal_overflow(page)
    assert _serious_violations(page) == []


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_admin_variant_generator_creates_the_missing_variants(
    staff_page, shop, viewport
):
    page = staff_page
    page.set_viewport_size({"width": viewport, "height": 900})
    page.goto(f"/admin/inventory/product/{shop.pk}/change/")
    page.get_by_role("link", name="Generate variants").click()
    page.wait_for_url("**/generate-variants/")

    assert "6 new variants of 6" in page.get_by_test_id("variant-plan").text_content()
    assert page.input_value("#id_price_minor") == "25.00"
    _no_horizontal_overflow(page)
    problems = _serious_violations(page)

    page.get_by_role("button", name="Create 6 variants").click()
    page.wait_for_url(f"**/admin/inventory/product/{shop.pk}/change/")
    message = page.locator(".messagelist").inner_text()
    assert "6 variants created for Pocket Tee" in message
    assert Variant.objects.filter(product=shop).count() == 7
    # The product page edits each variant's options as fields, not JSON.
    assert page.locator("input[name='variants-1-option_size']").input_value() == "S"
    assert page.locator("textarea[name$='option_values']").count() == 0

    page.get_by_role("link", name="Generate variants").click()
    assert "0 new variants of 6" in page.get_by_test_id("variant-plan").text_content()
    assert problems == []
