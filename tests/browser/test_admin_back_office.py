"""Staff back office in a real browser at desktop and phone widths: the
dashboard, an order with a note, a partial shipment and its invoice, the bulk
refund confirmation and the variant generator fit the screen and pass axe-core."""

import pytest
from django.utils import timezone

from apps.checkout.services.fulfilment import fulfilment_create
from apps.inventory.models import Variant
from tests.accounts.factories import PASSWORD, UserFactory
from tests.billing.factories import PaymentFactory, RefundFactory
from tests.browser.checks import problems_at_each_width
from tests.checkout.factories import OrderFactory, OrderLineFactory
from tests.inventory.factories import ProductFactory, ProductTypeFactory, VariantFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


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


def test_admin_dashboard_fits_and_passes_axe(staff_page, shop):
    page = staff_page
    page.goto("/admin/")

    dashboard = page.get_by_test_id("dashboard")
    assert dashboard.is_visible()
    text = dashboard.inner_text()
    assert "$25.00" in text
    assert "LOW-STOCK-VARIANT-WITH-A-LONG-SKU" in text
    assert "insufficient funds" in text
    assert page.get_by_test_id("dashboard-charts").is_visible()
    assert problems_at_each_width(page) == []


def test_admin_variant_generator_creates_the_missing_variants(staff_page, shop):
    page = staff_page
    page.goto(f"/admin/inventory/product/{shop.pk}/change/")
    page.get_by_role("link", name="Generate variants").click()
    page.wait_for_url("**/generate-variants/")

    assert "6 new variants of 6" in page.get_by_test_id("variant-plan").text_content()
    assert page.input_value("#id_price_minor") == "25.00"
    problems = problems_at_each_width(page)

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


@pytest.fixture
def order_with_history():
    """A paid order with 2 lines of 2 units: 1 unit of the first shipped."""
    order = OrderFactory(paid=True, paid_at=timezone.now(), lines=0)
    first = OrderLineFactory(
        order=order,
        title="Heavy Hoodie — Oat, XL with a rather long name for a phone",
        sku="HOODIE-OAT-XL-WITH-A-LONG-SKU",
        quantity=2,
    )
    OrderLineFactory(order=order, quantity=2)
    fulfilment_create(
        order_id=order.pk,
        quantities={first.pk: 1},
        carrier="UPS",
        tracking_number="1Z999AA10123456784",
    )
    return order


def test_admin_order_with_note_partial_shipment_and_invoice_fits_and_passes_axe(
    staff_page, order_with_history
):
    page = staff_page
    order = order_with_history
    page.goto(f"/admin/checkout/order/{order.pk}/change/")
    page.fill("#order-note-form textarea[name=body]", "Customer called: gift wrap.")
    page.locator("#order-note-form").get_by_role("button", name="Add note").click()
    page.wait_for_url(f"**/admin/checkout/order/{order.pk}/change/")

    assert "Customer called: gift wrap." in page.locator("#order-notes").inner_text()
    shipments = page.locator("#order-fulfilments").inner_text()
    assert "1Z999AA10123456784" in shipments
    assert "1 × HOODIE-OAT-XL-WITH-A-LONG-SKU" in shipments
    assert page.get_by_role("link", name="Ship items…").is_visible()  # 3 units left
    invoice = page.get_by_role("link", name="Invoice (PDF)")
    assert invoice.is_visible()
    pdf = page.request.get(invoice.get_attribute("href"))
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF")
    assert problems_at_each_width(page) == []


def test_admin_bulk_refund_confirmation_lists_orders_fits_and_passes_axe(staff_page):
    page = staff_page
    orders = [
        OrderFactory(paid=True, paid_at=timezone.now(), lines=2),
        OrderFactory(paid=True, paid_at=timezone.now(), currency="EUR"),
        OrderFactory(payment=False),  # not refundable: listed, and skipped
    ]
    page.goto("/admin/checkout/order/")
    for order in orders:
        page.check(f"input[name=_selected_action][value='{order.pk}']")
    page.select_option("select[name=action]", "refund_in_full")
    page.get_by_role("button", name="Go").click()
    page.wait_for_load_state()

    text = page.locator("#content").inner_text()
    assert "Refund in full" in text
    for order in orders:
        assert order.number in text
    assert "$25.00" in text
    assert "€" in text
    assert "not refundable" in text
    assert page.get_by_role("button", name="Yes, refund these amounts").is_visible()
    assert problems_at_each_width(page) == []
