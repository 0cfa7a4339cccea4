"""Idempotency, ownership (404) and query counts of the checkout API."""

import threading
import uuid

import pytest
from django.db import connection
from rest_framework.test import APIClient

from apps.billing.models import Payment
from apps.checkout.models import Order
from tests.accounts.factories import UserFactory
from tests.checkout.conftest import ADDRESS, api_checkout_to_payment, confirm_card
from tests.inventory.factories import VariantFactory

pytestmark = [pytest.mark.localstripe, pytest.mark.django_db]


def test_payment_double_submit_same_intent_and_replay_same_body(
    api_client, make_cart, shipping_method, localstripe
):
    cart = make_cart()
    session = api_checkout_to_payment(api_client, cart, method=shipping_method)
    url = f"/api/v1/checkouts/{session['checkout_id']}/payment/"

    second = api_client.post(url, format="json").json()
    key = {"HTTP_IDEMPOTENCY_KEY": "pay-1"}
    first_keyed = api_client.post(url, format="json", **key)
    replay = api_client.post(url, format="json", **key)
    reused = api_client.post(url, {"x": 1}, format="json", **key)

    assert second["payment_intent_id"] == session["payment_intent_id"]
    assert Payment.objects.count() == 1
    assert Order.objects.count() == 1
    assert replay.json() == first_keyed.json()
    assert replay["Idempotent-Replayed"] == "true"
    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "idempotency_key_reused"


def test_checkout_create_replay_same_key_returns_same_checkout(api_client, make_cart):
    cart = make_cart()
    key = {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())}
    body = {"cart": str(cart.pk), "email": "a@example.com"}

    first = api_client.post("/api/v1/checkouts/", body, format="json", **key)
    again = api_client.post("/api/v1/checkouts/", body, format="json", **key)
    other = api_client.post(
        "/api/v1/checkouts/", {**body, "email": "b@example.com"}, format="json", **key
    )

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert other.status_code == 422


def test_checkout_total_change_updates_same_intent(
    api_client, make_cart, shipping_method, localstripe
):
    from apps.carts import services as cart_services

    cart = make_cart()
    session = api_checkout_to_payment(api_client, cart, method=shipping_method)
    cart_services.cart_line_set_quantity(
        cart=cart, line_id=cart.lines.get().pk, quantity=2
    )

    again = api_client.post(
        f"/api/v1/checkouts/{session['checkout_id']}/payment/", format="json"
    ).json()

    assert again["payment_intent_id"] == session["payment_intent_id"]
    assert again["amount"]["amount"] == session["amount"]["amount"] + 2000
    assert Payment.objects.get().amount_minor == again["amount"]["amount"]
    assert Order.objects.get().total_minor == again["amount"]["amount"]


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("get", ""),
        ("patch", ""),
        ("get", "shipping-methods/"),
        ("post", "payment/"),
        ("post", "complete/"),
        ("get", "order/"),
    ],
)
def test_checkout_endpoints_other_users_checkout_404(method, suffix, make_cart):
    owner, intruder = UserFactory(), UserFactory()
    cart = make_cart(user=owner)
    client = APIClient()
    client.force_authenticate(owner)
    checkout_id = client.post(
        "/api/v1/checkouts/", {"cart": str(cart.pk)}, format="json"
    ).json()["id"]
    for who in (intruder, None):
        other = APIClient()
        if who:
            other.force_authenticate(who)
        r = getattr(other, method)(
            f"/api/v1/checkouts/{checkout_id}/{suffix}",
            {"email": "x@example.com"},
            format="json",
        )
        assert r.status_code == 404, (who, r.content)


def test_orders_and_carts_of_other_user_404(
    make_cart, shipping_method, localstripe, django_capture_on_commit_callbacks
):
    owner, intruder = UserFactory(), UserFactory()
    cart = make_cart(user=owner)
    client = APIClient()
    client.force_authenticate(owner)
    session = api_checkout_to_payment(client, cart, email="", method=shipping_method)
    confirm_card(session["payment_intent_id"])
    with django_capture_on_commit_callbacks(execute=True):
        number = client.post(
            f"/api/v1/checkouts/{session['checkout_id']}/complete/", format="json"
        ).json()["number"]
    other = APIClient()
    other.force_authenticate(intruder)

    assert other.get(f"/api/v1/orders/{number}/").status_code == 404
    assert other.get("/api/v1/orders/").json() == []
    assert other.get(f"/api/v1/carts/{cart.pk}/").status_code == 404
    assert (
        other.post(
            "/api/v1/checkouts/", {"cart": str(cart.pk)}, format="json"
        ).status_code
        == 404
    )
    assert APIClient().get(f"/api/v1/orders/{number}/").status_code in (401, 403)


def test_checkout_unknown_id_404(api_client):
    r = api_client.get(f"/api/v1/checkouts/{uuid.uuid4()}/")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "checkout_not_found"


def test_complete_five_line_cart_at_most_40_queries(
    api_client,
    make_cart,
    shipping_method,
    localstripe,
    django_capture_on_commit_callbacks,
):
    from django.test.utils import CaptureQueriesContext

    cart = make_cart(
        lines=tuple((VariantFactory(stock=9, weight_grams=10), 1) for _ in range(5))
    )
    session = api_checkout_to_payment(api_client, cart, method=shipping_method)
    confirm_card(session["payment_intent_id"])

    with (
        django_capture_on_commit_callbacks(execute=False),
        CaptureQueriesContext(connection) as ctx,
    ):
        r = api_client.post(
            f"/api/v1/checkouts/{session['checkout_id']}/complete/", format="json"
        )

    assert r.json()["status"] == "paid"
    assert len(r.json()["lines"]) == 5
    statements = [q["sql"] for q in ctx.captured_queries]
    # SAVEPOINT/RELEASE markers are not queries; the test's own transaction
    # turns the view's outer atomic blocks into them.
    queries = [q for q in statements if not q.startswith(("SAVEPOINT", "RELEASE"))]
    assert len(queries) <= 40, "\n".join(queries)


def test_checkout_detail_query_count_independent_of_lines(
    make_cart, shipping_method, django_assert_num_queries
):
    counts = []
    for n in (1, 5):
        cart = make_cart(lines=tuple((None, 1) for _ in range(n)))
        client = APIClient()
        checkout_id = client.post(
            "/api/v1/checkouts/",
            {"cart": str(cart.pk), "email": "a@example.com"},
            format="json",
        ).json()["id"]
        client.patch(
            f"/api/v1/checkouts/{checkout_id}/",
            {"shipping_address": ADDRESS, "shipping_method": shipping_method.pk},
            format="json",
        )
        with connection.execute_wrapper(lambda *a: a[0](*a[1:])):
            from django.test.utils import CaptureQueriesContext

            with CaptureQueriesContext(connection) as ctx:
                assert (
                    client.get(f"/api/v1/checkouts/{checkout_id}/").status_code == 200
                )
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]


__all__ = ["threading"]
