"""Acceptance 1–2: a guest buys through the pages with localstripe's Stripe.js;
the cart and each checkout step fit 1280 and 390 px screens and pass axe-core."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from apps.billing import gateway
from apps.billing.models import Payment
from apps.checkout.models import Order
from apps.inventory.models import StockItem
from tests.accounts.factories import PASSWORD, UserFactory
from tests.browser.checks import problems_at_each_width
from tests.checkout.factories import ShippingMethodFactory
from tests.inventory.factories import VariantFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.localstripe,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def product(localstripe, transactional_db):
    ShippingMethodFactory(name="Standard", price_minor=500)
    return VariantFactory(
        stock=5, weight_grams=200, price_minor=2500, sku="MUG-BLUE"
    ).product


def _to_payment(page, product, email="guest@example.com", at_each_page=None):
    """Walk from the product page to the card form; call ``at_each_page(name)``
    on the cart and on each checkout step once it has loaded."""
    seen = at_each_page or (lambda name: None)
    page.goto(f"/products/{product.slug}/")
    page.check("input[name=sku]")
    page.click("button:has-text('Add to cart')")
    page.wait_for_url("**/cart/")
    seen("cart")
    page.click("button:has-text('Checkout')")
    page.wait_for_selector("input[name=email]")
    seen("email step")
    page.fill("input[name=email]", email)
    page.click("button:has-text('Continue')")
    page.wait_for_selector("input[name=line1]")
    assert page.locator(".checkout-progress").is_visible()
    seen("address step")
    page.fill("input[name=name]", "Ada Lovelace")
    page.fill("input[name=line1]", "1600 Amphitheatre Pkwy")
    page.fill("input[name=city]", "Mountain View")
    page.fill("input[name=region]", "CA")
    page.fill("input[name=postal_code]", "94043")
    page.select_option("select[name=country]", "US")
    page.click("button:has-text('Continue')")
    page.wait_for_selector("input[name=shipping_method]")
    seen("shipping step")
    page.check("input[name=shipping_method]")
    page.click("button:has-text('Continue to payment')")
    page.wait_for_selector("input[placeholder=number]")
    seen("payment step")


def test_cart_and_each_checkout_step_fit_the_screen_and_pass_axe(page, localstripe):
    ShippingMethodFactory(
        name="Standard delivery, 3 to 5 working days", price_minor=500
    )
    product = VariantFactory(
        product__title="Heavy Hoodie with a rather long name for a phone screen",
        option_values={"colour": "Oat", "size": "XL"},
        stock=5,
        weight_grams=800,
        price_minor=6500,
        sku="HOODIE-OAT-XL-WITH-A-LONG-SKU",
    ).product
    visited, problems = [], []

    def check(name):
        visited.append(name)
        problems.extend(problems_at_each_width(page, name=name))

    _to_payment(page, product, at_each_page=check)

    assert visited == [
        "cart",
        "email step",
        "address step",
        "shipping step",
        "payment step",
    ]
    assert problems == []


def _pay(page, card):
    page.fill("input[placeholder=number]", card)
    page.fill("input[placeholder=exp_month]", "12")
    page.fill("input[placeholder=exp_year]", "34")
    page.fill("input[placeholder=cvc]", "123")
    page.fill("input[placeholder=postal_code]", "94043")
    page.click("#pay-button")


def test_guest_buys_with_4242_sees_confirmation_email_stock_paid(page, product):
    _to_payment(page, product)
    _pay(page, "4242424242424242")

    page.wait_for_url(re.compile(r"/checkout/order/"))
    number = page.locator("[data-testid=order-number]").inner_text()
    assert "Thank you" in page.content()
    expect(page.locator("[data-testid=confirmation-sent]")).to_contain_text(
        "guest@example.com"
    )
    expect(page.locator("[data-testid=ship-to]")).to_contain_text(
        "Ada Lovelace, 1600 Amphitheatre Pkwy, Mountain View, CA 94043, US"
    )
    order = Order.objects.get()
    assert order.number == number
    assert order.status == "paid"
    assert StockItem.objects.get(variant__sku="MUG-BLUE").on_hand == 4
    (confirmation,) = [m for m in mail.outbox if number in m.subject]
    assert confirmation.to == ["guest@example.com"]

    # Staff see it paid in the admin.
    staff = UserFactory(is_staff=True, is_superuser=True)
    admin = page.context.browser.new_context(base_url=page.url.split("/checkout")[0])
    try:
        admin_page = admin.new_page()
        admin_page.goto("/admin/login/")
        admin_page.fill("input[name=username]", staff.email)
        admin_page.fill("input[name=password]", PASSWORD)
        admin_page.click("input[type=submit]")
        admin_page.goto(f"/admin/checkout/order/{order.pk}/change/")
        expect(admin_page.locator("body")).to_contain_text(number)
        expect(admin_page.locator(".field-status")).to_contain_text("Paid")
    finally:
        admin.close()


def test_3ds_card_completes_after_challenge(page, product):
    _to_payment(page, product)
    _pay(page, "4000002500003155")
    page.click("text=Complete authentication")

    page.wait_for_url(re.compile(r"/checkout/order/"))
    assert Order.objects.get().status == "paid"


def test_3ds_failed_challenge_shows_error_order_unpaid(page, product):
    _to_payment(page, product)
    _pay(page, "4000002500003155")
    page.click("text=Fail authentication")

    expect(page.locator("#card-errors")).to_contain_text(
        "We are unable to authenticate your payment method."
    )
    assert Order.objects.get().status == "pending_payment"

    # As on Stripe, the shopper may then pay with another card.
    _pay(page, "4242424242424242")
    page.wait_for_url(re.compile(r"/checkout/order/"))
    assert Order.objects.get().status == "paid"


def test_declined_card_message_then_second_card_one_order_one_payment(page, product):
    _to_payment(page, product)
    _pay(page, "4000000000000002")
    expect(page.locator("#card-errors")).not_to_be_empty()
    assert page.locator("#card-errors").inner_text() == "Your card was declined."

    _pay(page, "4242424242424242")
    page.wait_for_url(re.compile(r"/checkout/order/"))

    order = Order.objects.get()
    assert order.status == "paid"
    (payment,) = Payment.objects.all()
    assert payment.status == "succeeded"
    # Stripe's own record agrees: one intent, charged the order's total once.
    intent = gateway.payment_intent_retrieve(payment_intent_id=payment.intent_id)
    assert intent.status == "succeeded"
    assert intent.amount_minor == order.total_minor
