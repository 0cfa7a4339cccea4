"""The shipping address form lists the countries the shop delivers to, each
once, by name, the main market first; the billing form lists every country."""

import re

import pytest

from tests.checkout.conftest import ADDRESS
from tests.checkout.factories import ShippingMethodFactory, ShippingZoneFactory
from tests.checkout.test_views import checkout_at, guest_session, url

pytestmark = pytest.mark.django_db


def country_options(html: str) -> list[str]:
    select = re.search(r'<select name="country".*?</select>', html, flags=re.DOTALL)
    assert select, html
    return re.findall(r'<option value="([A-Z]{2})"', select.group(0))


def test_shipping_countries_served_once_main_market_first_billing_has_all(
    client, make_cart, settings
):
    settings.SHOP_MAIN_COUNTRY = "US"
    ShippingMethodFactory(zone=ShippingZoneFactory(countries=["US", "FR", "de"]))
    ShippingMethodFactory(zone=ShippingZoneFactory(countries=["FR", "GB"]))
    # A zone whose only method is switched off delivers nowhere.
    ShippingMethodFactory(zone=ShippingZoneFactory(countries=["JP"]), is_active=False)
    cart = make_cart()
    guest_session(client, cart)
    checkout = checkout_at(cart, "shipping-address")

    html = client.get(url(checkout, "shipping-address")).content.decode()
    assert country_options(html) == ["US", "FR", "DE", "GB"]  # France, Germany...
    assert '<option value="GB">United Kingdom</option>' in html

    r = client.post(url(checkout, "shipping-address"), {**ADDRESS, "country": "JP"})
    assert r.status_code == 400
    assert "JP is not one of the available choices" in r.content.decode()
    checkout.refresh_from_db()
    assert checkout.shipping_address is None

    checkout = checkout_at(make_cart(), "billing-address")
    guest_session(client, checkout.cart)
    html = client.get(url(checkout, "billing-address")).content.decode()
    assert len(country_options(html)) > 200


def test_a_new_zone_appears_in_the_list_at_once(client, make_cart):
    ShippingMethodFactory(zone=ShippingZoneFactory(countries=["US"]))
    cart = make_cart()
    guest_session(client, cart)
    checkout = checkout_at(cart, "shipping-address")
    assert country_options(
        client.get(url(checkout, "shipping-address")).content.decode()
    ) == ["US"]

    ShippingMethodFactory(zone=ShippingZoneFactory(countries=["CA"]))

    assert country_options(
        client.get(url(checkout, "shipping-address")).content.decode()
    ) == ["US", "CA"]
