"""Cart changes racing payment start, with real threads on PostgreSQL.

- A quantity change that pushes the parcel past the chosen method's top
  weight band, racing payment start: no order is ever paid with shipping 0.
- A line add racing payment start and completion: either the add is refused
  (409 ``cart_locked``) or the charged order contains it; never lost.
"""

from __future__ import annotations

import uuid

import pytest
from rest_framework.test import APIClient

from apps.billing import gateway
from apps.carts import services as cart_services
from apps.checkout import services
from apps.checkout.models import Order
from tests.checkout.conftest import ADDRESS, confirm_card
from tests.checkout.factories import ShippingMethodFactory, WeightBandFactory
from tests.inventory.factories import VariantFactory
from tests.parallel import run_in_parallel

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.localstripe,
    pytest.mark.django_db(transaction=True),
]

ROUNDS = 6
BAND_PRICE = 700


@pytest.fixture(autouse=True)
def _generous_rate_limits(settings):
    # Every thread comes from 127.0.0.1: the per-client budgets would throttle
    # the test, not the race.
    settings.CHECKOUT_RATE = "10000/5m"
    settings.CHECKOUT_PAYMENT_RATE = "10000/5m"


def _key() -> dict:
    return {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())}


def _ready_checkout(variant, quantity: int, method):
    cart, _ = cart_services.cart_create(user=None, currency="USD")
    cart_services.cart_line_add(cart=cart, sku=variant.sku, quantity=quantity)
    checkout, _ = services.checkout_start(cart=cart, email="race@example.com")
    checkout = services.checkout_set_shipping_address(
        checkout=checkout, address=ADDRESS
    )
    checkout = services.checkout_set_shipping_method(
        checkout=checkout, method_id=method.pk
    )
    return cart, checkout


def _pay(checkout_id) -> dict:
    """Start payment, confirm the card and complete, as the mobile app does."""
    client = APIClient()
    r = client.post(f"/api/v1/checkouts/{checkout_id}/payment/", **_key())
    outcome = {"start": r.status_code, "start_body": r.json()}
    if r.status_code != 200:
        return outcome
    confirm_card(r.json()["payment_intent_id"])
    r = client.post(f"/api/v1/checkouts/{checkout_id}/complete/", **_key())
    outcome["complete"] = r.status_code
    outcome["intent"] = outcome["start_body"]["payment_intent_id"]
    return outcome


def test_quantity_past_top_band_racing_payment_start_never_pays_shipping_zero(
    localstripe,
):
    band = WeightBandFactory(
        max_weight_grams=1000, price_minor=BAND_PRICE, method__name="Parcel"
    )
    mug = VariantFactory(stock=500, weight_grams=300, price_minor=1000)
    outcomes = []
    for _ in range(ROUNDS):
        cart, checkout = _ready_checkout(mug, 3, band.method)  # 900 g: in band
        line = cart.lines.get()

        def raise_quantity(cart=cart, line=line):
            r = APIClient().patch(
                f"/api/v1/carts/{cart.pk}/lines/{line.pk}/",
                {"quantity": 4},  # 1.2 kg: past the top band
                format="json",
            )
            return ("quantity", r.status_code, r.json())

        def pay(checkout=checkout):
            return ("pay", _pay(checkout.pk))

        results, errors = run_in_parallel([raise_quantity, pay])
        assert errors == [], errors
        by_kind = {r[0]: r for r in results}
        outcomes.append((checkout.pk, by_kind["quantity"], by_kind["pay"][1]))

    for checkout_id, (_, quantity_status, quantity_body), paid in outcomes:
        if paid["start"] == 200:
            # Payment won: the cart was locked, the change refused.
            assert quantity_status == 409, quantity_body
            assert quantity_body["error"]["code"] == "cart_locked"
            order = Order.objects.get(checkout_id=checkout_id)
            assert order.status == "paid"
            assert order.shipping_minor == BAND_PRICE
            assert [li.quantity for li in order.lines.all()] == [3]
            intent = gateway.payment_intent_retrieve(payment_intent_id=paid["intent"])
            assert intent.amount_minor == order.total_minor == 3000 + BAND_PRICE
        else:
            # The change won: the method no longer quotes, payment refused.
            assert quantity_status == 200, quantity_body
            assert paid["start"] == 409, paid
            assert paid["start_body"]["error"]["code"] == "shipping_method_unavailable"
            assert not Order.objects.filter(checkout_id=checkout_id).exists()
    assert not Order.objects.filter(status="paid", shipping_minor=0).exists()


def test_line_add_racing_payment_start_and_complete_refused_or_charged(localstripe):
    method = ShippingMethodFactory(price_minor=500)
    mug = VariantFactory(stock=500, weight_grams=300, price_minor=1200)
    hoodie = VariantFactory(stock=500, weight_grams=500, price_minor=4000)
    outcomes = []
    for _ in range(ROUNDS):
        cart, checkout = _ready_checkout(mug, 1, method)

        def add_hoodies(cart=cart):
            r = APIClient().post(
                f"/api/v1/carts/{cart.pk}/lines/",
                {"sku": hoodie.sku, "quantity": 3},
                format="json",
                **_key(),
            )
            return ("add", r.status_code, r.json())

        def pay(checkout=checkout):
            return ("pay", _pay(checkout.pk))

        results, errors = run_in_parallel([add_hoodies, pay])
        assert errors == [], errors
        by_kind = {r[0]: r for r in results}
        outcomes.append((checkout.pk, by_kind["add"], by_kind["pay"][1]))

    for checkout_id, (_, add_status, add_body), paid in outcomes:
        assert paid["start"] == 200, paid
        assert paid["complete"] == 200, paid
        order = Order.objects.get(checkout_id=checkout_id)
        assert order.status == "paid"
        skus = {li.sku: li.quantity for li in order.lines.all()}
        if add_status == 200:
            assert skus == {mug.sku: 1, hoodie.sku: 3}  # never lost
        else:
            assert add_status == 409, add_body
            assert add_body["error"]["code"] == "cart_locked"
            assert skus == {mug.sku: 1}
        intent = gateway.payment_intent_retrieve(payment_intent_id=paid["intent"])
        assert intent.amount_minor == order.total_minor
        assert order.total_minor == sum(li.total_minor for li in order.lines.all()) + (
            order.shipping_minor - order.shipping_discount_minor
        )
