"""Issue 18, acceptance 5: buy a gift card, redeem it, then pay an order
partly by store credit and partly by a 3-D Secure card, in the browser with
localstripe's Stripe.js."""

import re

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from playwright.sync_api import expect

from apps.billing import gateway
from apps.billing.models import Payment
from apps.checkout.models import Order
from apps.wallets.models import GiftCard, Wallet
from apps.wallets.selectors import wallets_with_drift
from tests.accounts.factories import UserFactory
from tests.checkout.factories import ShippingMethodFactory
from tests.inventory.factories import VariantFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.localstripe,
    pytest.mark.django_db(transaction=True),
]

CODE = re.compile(r"[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}")


def _sign_in(page, live_server, user):
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )


def _add_to_cart_and_check_out(page, product):
    page.goto(f"/products/{product.slug}/")
    page.check("input[name=sku]")
    page.click("button:has-text('Add to cart')")
    page.wait_for_url("**/cart/")
    page.click("button:has-text('Checkout')")


def _fill_address(page):
    page.fill("input[name=name]", "Ada Lovelace")
    page.fill("input[name=line1]", "1600 Amphitheatre Pkwy")
    page.fill("input[name=city]", "Mountain View")
    page.fill("input[name=region]", "CA")
    page.fill("input[name=postal_code]", "94043")
    page.select_option("select[name=country]", "US")
    page.click("button:has-text('Continue')")


def _pay(page, card):
    page.wait_for_selector("input[placeholder=number]")
    page.fill("input[placeholder=number]", card)
    page.fill("input[placeholder=exp_month]", "12")
    page.fill("input[placeholder=exp_year]", "34")
    page.fill("input[placeholder=cvc]", "123")
    page.fill("input[placeholder=postal_code]", "94043")
    page.click("#pay-button")


def test_buy_gift_card_redeem_it_then_pay_split_with_3ds(
    page, live_server, localstripe
):
    ShippingMethodFactory(name="Standard", price_minor=500)
    gift = VariantFactory(
        price_minor=2_000, weight_grams=0, track_stock=False, is_gift_card=True
    ).product
    mug = VariantFactory(stock=5, weight_grams=200, price_minor=4_000).product
    shopper = UserFactory(email="shopper@example.com", verified_email=True)
    _sign_in(page, live_server, shopper)

    # Buy a 20.00 gift card for oneself (no recipient: the buyer gets it at
    # once); a digital cart skips shipping, a signed-in shopper the email.
    _add_to_cart_and_check_out(page, gift)
    _fill_address(page)
    delivery = page.locator("[data-testid=gift-delivery]")
    expect(delivery).to_contain_text(f"To {shopper.email}, once paid")
    delivery.locator("a").click()
    expect(page.locator("legend")).to_contain_text("Gift card delivery")
    page.click("button:has-text('Continue')")
    page.click("button:has-text('Continue to payment')")
    _pay(page, "4242424242424242")
    page.wait_for_url(re.compile(r"/checkout/order"))
    assert Order.objects.get().status == "paid"
    card = GiftCard.objects.get()
    assert (card.initial_minor, card.recipient_email) == (2_000, shopper.email)
    [code] = [c for m in mail.outbox for c in CODE.findall(m.body)]

    # Redeem it into the wallet.
    page.goto("/gift-cards/redeem/")
    page.fill("input[name=code]", code.lower())
    page.click("button:has-text('Add to store credit')")
    expect(page.locator("body")).to_contain_text("$20.00 was added")
    wallet = Wallet.objects.get(user=shopper, currency="USD")
    assert wallet.balance_minor == 2_000

    # A 45.00 order (40.00 + 5.00 shipping): 20.00 by credit, 25.00 by a
    # card that asks for 3-D Secure.
    _add_to_cart_and_check_out(page, mug)
    _fill_address(page)
    page.check("input[name=shipping_method]")
    page.click("button:has-text('Continue to payment')")
    page.wait_for_selector("input[placeholder=number]")
    expect(page.locator("[data-total=store-credit]")).to_contain_text("−$20.00")
    expect(page.locator("#pay-button")).to_contain_text("$25.00")
    _pay(page, "4000002500003155")
    page.click("text=Complete authentication")
    page.wait_for_url(re.compile(r"/checkout/order"))

    order = Order.objects.latest("pk")
    assert order.status == "paid"
    assert (order.total_minor, order.credit_minor) == (4_500, 2_000)
    wallet.refresh_from_db()
    assert (wallet.balance_minor, wallet.held_minor) == (0, 0)
    payment = Payment.objects.get(reference=order.number)
    intent = gateway.payment_intent_retrieve(payment_intent_id=payment.intent_id)
    assert intent.status == "succeeded"
    assert intent.amount_minor == 2_500
    assert wallets_with_drift() == []
