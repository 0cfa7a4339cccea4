"""Idempotency-Key on the cart POSTs: a retried request changes nothing twice."""

import pytest

from apps.carts.models import Cart, CartCoupon, CartLine
from tests.accounts.factories import UserFactory
from tests.carts.factories import CartFactory, CartLineFactory
from tests.coupons.factories import CouponFactory
from tests.inventory.factories import VariantFactory

pytestmark = pytest.mark.django_db


def _key(value: str) -> dict:
    return {"HTTP_IDEMPOTENCY_KEY": value}


def _assert_reused(response) -> None:
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"


def test_cart_create_same_key_replays_same_cart_and_creates_one_row(api_client):
    first = api_client.post("/api/v1/carts/", {}, format="json", **_key("create-1"))
    again = api_client.post("/api/v1/carts/", {}, format="json", **_key("create-1"))
    other = api_client.post(
        "/api/v1/carts/", {"currency": "EUR"}, format="json", **_key("create-1")
    )

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Cart.objects.count() == 1
    _assert_reused(other)
    assert Cart.objects.count() == 1


def test_cart_line_add_same_key_twice_adds_the_units_once(api_client):
    variant = VariantFactory(stock=10, price_minor=500)
    cart = CartFactory()
    CartLineFactory(cart=cart, variant=variant, quantity=2)
    url = f"/api/v1/carts/{cart.pk}/lines/"
    body = {"sku": variant.sku, "quantity": 1}

    first = api_client.post(url, body, format="json", **_key("add-1"))
    again = api_client.post(url, body, format="json", **_key("add-1"))

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert again["ETag"] == first["ETag"] == f'"{first.json()["version"]}"'
    assert again.json()["lines"][0]["quantity"] == 3
    assert CartLine.objects.get(cart=cart).quantity == 3


def test_cart_line_add_same_key_other_body_returns_422_and_no_change(api_client):
    variant = VariantFactory(stock=10)
    cart = CartFactory()
    url = f"/api/v1/carts/{cart.pk}/lines/"
    api_client.post(
        url, {"sku": variant.sku, "quantity": 1}, format="json", **_key("add-2")
    )

    reused = api_client.post(
        url, {"sku": variant.sku, "quantity": 2}, format="json", **_key("add-2")
    )

    _assert_reused(reused)
    assert CartLine.objects.get(cart=cart).quantity == 1
    assert Cart.objects.get(pk=cart.pk).version == 2


def test_cart_line_add_new_key_adds_again(api_client):
    variant = VariantFactory(stock=10)
    cart = CartFactory()
    url = f"/api/v1/carts/{cart.pk}/lines/"
    body = {"sku": variant.sku, "quantity": 1}

    api_client.post(url, body, format="json", **_key("add-3"))
    api_client.post(url, body, format="json", **_key("add-4"))

    assert CartLine.objects.get(cart=cart).quantity == 2


def test_cart_line_add_refusal_is_not_remembered_retry_runs_again(api_client):
    """A refused attempt leaves no record: once stock arrives the retry succeeds."""
    from apps.inventory.models import StockItem

    variant = VariantFactory(stock=1)
    cart = CartFactory()
    url = f"/api/v1/carts/{cart.pk}/lines/"
    body = {"sku": variant.sku, "quantity": 2}

    refused = api_client.post(url, body, format="json", **_key("add-5"))
    StockItem.objects.filter(variant=variant).update(on_hand=5)
    retried = api_client.post(url, body, format="json", **_key("add-5"))

    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "quantity_exceeds_availability"
    assert retried.status_code == 200
    assert "Idempotent-Replayed" not in retried
    assert CartLine.objects.get(cart=cart).quantity == 2


def test_cart_coupon_apply_same_key_replays_other_code_returns_422(api_client):
    CouponFactory(code="TEN", value=1000)
    CouponFactory(code="OTHER", value=500)
    cart = CartLineFactory(quantity=2).cart
    url = f"/api/v1/carts/{cart.pk}/coupons/"

    first = api_client.post(url, {"code": "TEN"}, format="json", **_key("cpn-1"))
    again = api_client.post(url, {"code": "TEN"}, format="json", **_key("cpn-1"))
    other = api_client.post(url, {"code": "OTHER"}, format="json", **_key("cpn-1"))

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    _assert_reused(other)
    assert list(
        CartCoupon.objects.filter(cart=cart).values_list("coupon__code", flat=True)
    ) == ["TEN"]


def test_cart_merge_same_key_replays_notices_other_cart_returns_422(api_client):
    user = UserFactory()
    variant = VariantFactory(stock=4, price_minor=1000)
    mine = CartFactory(user=user)
    CartLineFactory(cart=mine, variant=variant, quantity=3)
    guest = CartFactory()
    CartLineFactory(cart=guest, variant=variant, quantity=2)
    another_guest = CartFactory()
    api_client.force_authenticate(user)

    first = api_client.post(f"/api/v1/carts/{guest.pk}/merge/", **_key("merge-1"))
    again = api_client.post(f"/api/v1/carts/{guest.pk}/merge/", **_key("merge-1"))
    other = api_client.post(
        f"/api/v1/carts/{another_guest.pk}/merge/", **_key("merge-1")
    )

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.json()["notices"][0]["code"] == "capped"
    _assert_reused(other)
    assert Cart.objects.filter(pk=another_guest.pk).exists()
    assert CartLine.objects.get(cart=mine).quantity == 4


def test_cart_line_add_key_is_scoped_per_user(api_client):
    """Another shopper's identical key is a different request, not a replay."""
    variant = VariantFactory(stock=10)
    alice, bob = UserFactory(), UserFactory()
    alice_cart, bob_cart = CartFactory(user=alice), CartFactory(user=bob)
    body = {"sku": variant.sku, "quantity": 1}

    api_client.force_authenticate(alice)
    api_client.post(
        f"/api/v1/carts/{alice_cart.pk}/lines/", body, format="json", **_key("k")
    )
    api_client.force_authenticate(bob)
    response = api_client.post(
        f"/api/v1/carts/{bob_cart.pk}/lines/", body, format="json", **_key("k")
    )

    assert response.status_code == 200
    assert "Idempotent-Replayed" not in response
    assert response.json()["id"] == str(bob_cart.pk)
    assert CartLine.objects.get(cart=bob_cart).quantity == 1
