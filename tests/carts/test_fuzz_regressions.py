"""Bad input found by fuzzing /api/v1/carts/: a clear 400 and nothing written."""

import pytest

from apps.carts.models import Cart, CartLine
from tests.accounts.factories import UserFactory
from tests.carts.factories import CartFactory, CartLineFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("currency", ["€€€", "123", 123, "U$D"])
def test_cart_create_currency_not_three_letters_returns_400_and_no_cart(
    api_client, currency
):
    response = api_client.post("/api/v1/carts/", {"currency": currency}, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert "currency" in error["details"]["fields"]
    assert Cart.objects.count() == 0


def test_cart_create_lowercase_iso_currency_still_accepted(api_client):
    response = api_client.post("/api/v1/carts/", {"currency": "eur"}, format="json")

    assert response.status_code == 201
    assert response.json()["currency"] == "EUR"


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("get", "", None),
        ("post", "lines/", {"sku": "ANY", "quantity": 1}),
        ("patch", "lines/{line}/", {"quantity": 5}),
        ("delete", "lines/{line}/", None),
        ("post", "coupons/", {"code": "ANY"}),
        ("delete", "coupons/ANY/", None),
        ("post", "merge/", None),
    ],
)
def test_cart_other_users_cart_every_method_returns_404_and_row_unchanged(
    api_client, method, suffix, body
):
    owner, intruder = UserFactory(), UserFactory()
    cart = CartFactory(user=owner)
    line = CartLineFactory(cart=cart, quantity=2)
    version = Cart.objects.get(pk=cart.pk).version
    api_client.force_authenticate(intruder)

    url = f"/api/v1/carts/{cart.pk}/{suffix.format(line=line.pk)}"
    response = getattr(api_client, method)(url, body, format="json")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "cart_not_found"
    cart.refresh_from_db()
    assert (cart.user_id, cart.version, cart.status) == (owner.pk, version, "open")
    assert CartLine.objects.get(pk=line.pk).quantity == 2


@pytest.mark.parametrize("currency", ["XYZ", "jpy"])
def test_cart_create_currency_the_shop_does_not_sell_in_returns_400_and_no_cart(
    api_client, settings, currency
):
    settings.CART_CURRENCIES = ["USD", "EUR"]

    response = api_client.post("/api/v1/carts/", {"currency": currency}, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert "USD, EUR" in str(error["details"]["fields"]["currency"])
    assert Cart.objects.count() == 0
