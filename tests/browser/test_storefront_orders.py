"""Order pages and flat pages in a real browser at desktop and phone widths:
the confirmation with its account offer, an account's order detail, a flat page."""

import uuid

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client

from apps.checkout.services.orders import order_public_path
from tests.accounts.factories import UserFactory
from tests.billing.factories import RefundFactory
from tests.browser.checks import problems_at_each_width
from tests.checkout.factories import OrderFactory, OrderLineFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _with_session(page, live_server, client: Client) -> None:
    """Give the browser the Django test client's session cookie."""
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )


@pytest.fixture
def pages(live_server):
    """URLs of: the guest confirmation (this browser placed the order, so the
    account is offered), a signed-in shopper's order detail, a flat page."""
    call_command("seed_pages", verbosity=0)
    guest = OrderFactory(paid=True, cart_id=uuid.uuid4(), lines=0)
    OrderLineFactory(
        order=guest, title="Heavy Hoodie — Oat, XL with a rather long name", quantity=2
    )
    guest_client = Client()
    session = guest_client.session
    session["cart_id"] = str(guest.cart_id)
    session.save()
    guest_client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key

    shopper = UserFactory(verified_email=True)
    mine = OrderFactory(
        user=shopper, fulfilled=True, lines=3, tracking_number="1Z999AA10123456784"
    )
    RefundFactory(payment__reference=mine.number, amount_minor=500)
    shopper_client = Client()
    shopper_client.force_login(shopper)
    return {
        "confirmation": (order_public_path(guest), guest_client),
        "account order": (f"/checkout/orders/{mine.number}/", shopper_client),
        "flat page": ("/pages/shipping-returns/", Client()),
    }


def test_order_and_flat_pages_fit_and_pass_axe(page, live_server, pages):
    problems = []
    for name, (url, client) in pages.items():
        page.context.clear_cookies()
        if client.cookies.get(settings.SESSION_COOKIE_NAME):
            _with_session(page, live_server, client)
        page.goto(url)
        if name == "confirmation":
            assert page.get_by_test_id("account-offer").is_visible()
            assert page.get_by_test_id("continue-shopping").is_visible()
        if name == "account order":
            assert page.get_by_role("button", name="Order these items again")
            assert page.get_by_test_id("refund").is_visible()
            assert page.get_by_role("link", name="1Z999AA10123456784").is_visible()
        problems += problems_at_each_width(page, name=name)
    assert problems == []


def test_skip_link_moves_focus_to_the_content(page, live_server, pages):
    page.goto(pages["flat page"][0])
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    assert skip.evaluate("el => el === document.activeElement")
    assert skip.bounding_box()["y"] >= 0  # shown on screen once focused
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"
