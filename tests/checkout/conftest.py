"""Checkout fixtures: a shippable catalogue, carts, and paths through the API."""

from __future__ import annotations

import uuid

import pytest

from apps.billing.gateway import testing
from apps.carts import services as cart_services
from tests.billing.conftest import webhooks_to_live_server  # noqa: F401 (fixture)
from tests.checkout.factories import ShippingMethodFactory, TaxRateFactory
from tests.inventory.factories import VariantFactory

ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "1600 Amphitheatre Pkwy",
    "city": "Mountain View",
    "region": "CA",
    "postal_code": "94043",
    "country": "US",
    "phone": "+1 650 253 0000",
}


@pytest.fixture
def shipping_method(db):
    return ShippingMethodFactory(price_minor=500)


@pytest.fixture
def tax_rate(db):
    return TaxRateFactory(basis_points=1000)


@pytest.fixture
def make_cart(db):
    def make(*, lines=((None, 1),), user=None, stock=50, weight=300, price=2000):
        from apps.carts.services import cart_create

        cart, _ = cart_create(user=user, currency="USD")
        for variant, quantity in lines:
            variant = variant or VariantFactory(
                stock=stock, weight_grams=weight, price_minor=price
            )
            cart_services.cart_line_add(cart=cart, sku=variant.sku, quantity=quantity)
        cart.refresh_from_db()
        return cart

    return make


def confirm_card(intent_id: str, card: str = "4242424242424242"):
    """Confirm an intent server-side, as the mobile Stripe SDK would."""
    return testing.payment_intent_confirm_with_test_card(
        payment_intent_id=intent_id, card_number=card
    )


def idem() -> dict:
    return {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())}


def api_checkout_to_payment(
    client, cart, *, email="guest@example.com", method=None
) -> dict:
    """Drive a checkout through the API up to a payment session."""
    body = {"cart": str(cart.pk), **({"email": email} if email else {})}
    r = client.post("/api/v1/checkouts/", body, format="json", **idem())
    assert r.status_code in (200, 201), r.content
    checkout_id = r.json()["id"]
    body = {"shipping_address": ADDRESS, "billing_same_as_shipping": True}
    if method is not None:
        body["shipping_method"] = method.pk
    r = client.patch(f"/api/v1/checkouts/{checkout_id}/", body, format="json")
    assert r.status_code == 200, r.content
    r = client.post(
        f"/api/v1/checkouts/{checkout_id}/payment/", format="json", **idem()
    )
    assert r.status_code == 200, r.content
    return {"checkout_id": checkout_id, **r.json()}
