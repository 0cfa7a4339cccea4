"""Stock commit batching: fewer statements per checkout, same stock and ledger."""

import uuid
from datetime import timedelta

import pytest
from django.db import connection

from apps.carts import services as cart_services
from apps.inventory.models import StockItem, StockMovement
from apps.inventory.services import ReservationRequest, stock_commit, stock_reserve
from tests.checkout.conftest import api_checkout_to_payment, confirm_card
from tests.checkout.factories import ShippingMethodFactory
from tests.inventory.factories import VariantFactory

pytestmark = pytest.mark.django_db


@pytest.mark.localstripe
def test_checkout_complete_five_line_cart_within_target_of_25_queries(
    api_client,
    localstripe,
    django_capture_on_commit_callbacks,
    django_assert_num_queries,
):
    cart, _ = cart_services.cart_create(user=None, currency="USD")
    variants = [VariantFactory(stock=9, weight_grams=10) for _ in range(5)]
    for variant in variants:
        cart_services.cart_line_add(cart=cart, sku=variant.sku, quantity=1)
    session = api_checkout_to_payment(
        api_client, cart, method=ShippingMethodFactory(price_minor=500)
    )
    confirm_card(session["payment_intent_id"])

    with (
        django_capture_on_commit_callbacks(execute=False),
        # Issue 12's target for completion is at most 25 (38 before it).
        # 24 now: stock_commit locks the stock rows first and reads the hold
        # once, locked, after them; others' holds are summed only for an
        # expired hold. Pinned exactly, so it only moves on purpose.
        # PostgreSQL adds the customer's advisory lock (one SELECT), which
        # SQLite, serialising writers anyway, does without: 25 there.
        django_assert_num_queries(24 + (connection.vendor == "postgresql")),
    ):
        r = api_client.post(
            f"/api/v1/checkouts/{session['checkout_id']}/complete/",
            format="json",
            HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
        )

    assert r.status_code == 200, r.content
    assert r.json()["status"] == "paid"
    assert (
        sorted(
            StockItem.objects.filter(variant__in=variants).values_list(
                "on_hand", flat=True
            )
        )
        == [8] * 5
    )


def test_stock_commit_mixed_quantities_and_backorder_decrements_each_row():
    a = VariantFactory(stock=10)
    b = VariantFactory(stock=3)
    c = VariantFactory(stock=1, allow_backorder=True)
    untracked = VariantFactory(track_stock=False)
    stock_reserve(
        items=[
            ReservationRequest(a.pk, 4),
            ReservationRequest(b.pk, 3),
            ReservationRequest(c.pk, 5),
            ReservationRequest(untracked.pk, 2),
        ],
        ref="order-1",
        ttl=timedelta(minutes=5),
    )

    committed = stock_commit(ref="order-1")

    assert {r.variant_id: r.status for r in committed} == {
        a.pk: "committed",
        b.pk: "committed",
        c.pk: "committed",
        untracked.pk: "committed",
    }
    on_hand = dict(StockItem.objects.values_list("variant_id", "on_hand"))
    assert (on_hand[a.pk], on_hand[b.pk], on_hand[c.pk]) == (6, 0, 0)
    ledger = {
        m.variant_id: (m.quantity, m.on_hand_after, m.reason)
        for m in StockMovement.objects.filter(reference="order-1")
    }
    assert ledger == {
        a.pk: (-4, 6, "sale"),
        b.pk: (-3, 0, "sale"),
        c.pk: (-1, 0, "sale"),
    }


def test_stock_commit_twice_leaves_stock_and_ledger_unchanged():
    variant = VariantFactory(stock=5)
    stock_reserve(
        items=[ReservationRequest(variant.pk, 2)], ref="r", ttl=timedelta(minutes=5)
    )
    stock_commit(ref="r")

    again = stock_commit(ref="r")

    assert [r.status for r in again] == ["committed"]
    assert StockItem.objects.get(variant=variant).on_hand == 3
    assert StockMovement.objects.filter(reference="r").count() == 1
