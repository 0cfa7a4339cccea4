"""Bad input found by fuzzing /api/v1/checkouts/: a clear 400, never a 500,
and nothing written; another shopper's checkout is 404 on every method."""

import pytest

from apps.checkout.models import Checkout
from tests.accounts.factories import UserFactory
from tests.checkout.conftest import ADDRESS, idem

pytestmark = pytest.mark.django_db

LONG_EMAIL = "x" * 300 + "@example.com"  # passes validate_email, > 254 chars


@pytest.mark.parametrize("body", [[1, 2], "a string", 5])
def test_checkout_create_anonymous_non_object_body_with_key_returns_400(
    api_client, body
):
    response = api_client.post("/api/v1/checkouts/", body, format="json", **idem())

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert Checkout.objects.count() == 0


def test_checkout_create_email_longer_than_254_returns_400_and_no_checkout(
    api_client, make_cart
):
    cart = make_cart()

    response = api_client.post(
        "/api/v1/checkouts/", {"cart": str(cart.pk), "email": LONG_EMAIL}, format="json"
    )

    assert response.status_code == 400
    assert "email" in response.json()["error"]["details"]["fields"]
    assert Checkout.objects.count() == 0


def test_checkout_patch_email_longer_than_254_returns_400_and_email_unchanged(
    api_client, make_cart
):
    cart = make_cart()
    created = api_client.post(
        "/api/v1/checkouts/",
        {"cart": str(cart.pk), "email": "guest@example.com"},
        format="json",
    ).json()

    response = api_client.patch(
        f"/api/v1/checkouts/{created['id']}/", {"email": LONG_EMAIL}, format="json"
    )

    assert response.status_code == 400
    assert "email" in response.json()["error"]["details"]["fields"]
    assert Checkout.objects.get().email == "guest@example.com"


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("get", "", None),
        ("patch", "", {"email": "intruder@example.com", "shipping_address": ADDRESS}),
        ("get", "shipping-methods/", None),
        ("post", "payment/", None),
        ("post", "complete/", None),
        ("get", "order/", None),
    ],
)
def test_checkout_other_users_checkout_every_method_returns_404_and_unchanged(
    api_client, make_cart, method, suffix, body
):
    owner, intruder = UserFactory(), UserFactory()
    api_client.force_authenticate(owner)
    cart = make_cart(user=owner)
    checkout_id = api_client.post(
        "/api/v1/checkouts/", {"cart": str(cart.pk)}, format="json"
    ).json()["id"]
    before = Checkout.objects.values().get(pk=checkout_id)

    for client_user in (intruder, None):
        api_client.force_authenticate(client_user)
        response = getattr(api_client, method)(
            f"/api/v1/checkouts/{checkout_id}/{suffix}", body, format="json", **idem()
        )

        assert response.status_code == 404, client_user
        assert response.json()["error"]["code"] == "checkout_not_found"
    assert Checkout.objects.values().get(pk=checkout_id) == before
