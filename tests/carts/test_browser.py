"""The cart flow in a real browser (Chromium via Playwright), without JavaScript."""

import pytest

from apps.carts.models import CartLine
from tests.accounts.factories import PASSWORD, UserFactory
from tests.carts.factories import CartFactory, CartLineFactory
from tests.inventory.factories import VariantFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_guest_adds_item_then_logs_in_and_sees_merged_cart_with_notice(
    browser, live_server
):
    user = UserFactory(verified_email=True)
    variant = VariantFactory(stock=4, price_minor=1000, title="Blue")
    CartLineFactory(cart=CartFactory(user=user), variant=variant, quantity=3)

    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        page.goto(f"/products/{variant.product.slug}/")
        page.check(f'input[name="sku"][value="{variant.sku}"]')
        page.fill('input[name="quantity"]', "3")
        page.click("form.add-to-cart button[type=submit]")
        assert page.url.endswith("/cart/")
        assert page.inner_text('[data-testid="cart-count"]') == "3"

        page.goto("/accounts/login/")
        page.fill('input[name="login"]', user.email)
        page.fill('input[name="password"]', PASSWORD)
        page.click('form button[type="submit"]:not(.link)')
        assert f"{variant.sku}: you asked for 6, we could keep 4." in page.content()

        page.goto("/cart/")
        assert page.inner_text('[data-testid="cart-count"]') == "4"
        assert page.input_value(".line-quantity input[name=quantity]") == "4"
    finally:
        context.close()
    assert CartLine.objects.get(cart__user=user).quantity == 4
