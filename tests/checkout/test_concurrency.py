"""Acceptance 4 and 5 with real parallel transactions (PostgreSQL, threads).

4. 30 shoppers race for the last 5 units through the API: exactly 5 paid
   orders, nobody else charged, stock ends at 0.
5. The same ``payment_intent.succeeded`` delivered 5 times at once (same event
   id and distinct event ids), mixed with other events for that intent: one
   paid transition, one stock commit, one coupon redemption, one email.
"""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from django.db import connection
from rest_framework.test import APIClient

from apps.billing import gateway
from apps.billing.gateway import testing
from apps.billing.models import Payment
from apps.carts import services as cart_services
from apps.checkout.models import Order, OrderEvent
from apps.core.models import Notification
from apps.coupons.models import CouponRedemption
from apps.inventory.models import StockItem, StockMovement
from tests.billing.stripe_events import deliver, event_body, webhook_endpoint
from tests.checkout.conftest import ADDRESS, confirm_card
from tests.coupons.factories import CouponFactory
from tests.inventory.factories import VariantFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.localstripe,
    pytest.mark.django_db(transaction=True),
]

SHOPPERS = 30
UNITS = 5


def _run_threads(target, count: int) -> list:
    """Run ``target(i)`` in ``count`` threads; return results (or exceptions)."""
    results: list = [None] * count

    def run(i: int) -> None:
        try:
            results[i] = target(i)
        except Exception as exc:  # reported by the test
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a shopper thread hung"
    return results


def _intents_by_checkout() -> dict[str, list]:
    """Every PaymentIntent localstripe holds, grouped by our checkout id."""
    found: dict[str, list] = {}
    client = gateway._client()
    for intent in client.v1.payment_intents.list({"limit": 100}).auto_paging_iter():
        checkout_id = (intent.metadata or {}).get("checkout_id")
        if checkout_id:
            found.setdefault(checkout_id, []).append(intent)
    return found


def test_checkout_last_units_30_concurrent_shoppers_exactly_5_paid_no_oversell(
    localstripe, shipping_method, settings
):
    # Every shopper comes from 127.0.0.1 here, so the per-client limits
    # (50 and 10 per 5 minutes) would throttle the crowd, not the stock.
    settings.CHECKOUT_RATE = "10000/5m"
    settings.CHECKOUT_PAYMENT_RATE = "10000/5m"
    variant = VariantFactory(stock=UNITS, weight_grams=200, price_minor=1500)
    carts = []
    for _ in range(SHOPPERS):
        cart, _ = cart_services.cart_create(user=None, currency="USD")
        cart_services.cart_line_add(cart=cart, sku=variant.sku, quantity=1)
        carts.append(cart)
    barrier = threading.Barrier(SHOPPERS, timeout=60)

    def shop(i: int) -> dict:
        client = APIClient()
        outcome: dict = {}
        try:
            r = client.post(
                "/api/v1/checkouts/",
                {"cart": str(carts[i].pk), "email": f"shopper{i}@example.com"},
                format="json",
                HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
            )
            assert r.status_code == 201, r.content
            checkout_id = outcome["checkout_id"] = r.json()["id"]
            r = client.patch(
                f"/api/v1/checkouts/{checkout_id}/",
                {
                    "shipping_address": ADDRESS,
                    "billing_same_as_shipping": True,
                    "shipping_method": shipping_method.pk,
                },
                format="json",
            )
            assert r.status_code == 200, r.content
        finally:
            barrier.wait()  # every payment POST starts together
        r = client.post(
            f"/api/v1/checkouts/{checkout_id}/payment/",
            format="json",
            HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
        )
        outcome["payment_status"] = r.status_code
        outcome["payment_body"] = r.json()
        if r.status_code != 200:
            return outcome
        confirm_card(r.json()["payment_intent_id"])
        r = client.post(
            f"/api/v1/checkouts/{checkout_id}/complete/",
            format="json",
            HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
        )
        outcome["complete_status"] = r.status_code
        outcome["order"] = r.json()
        return outcome

    started = time.monotonic()
    results = _run_threads(shop, SHOPPERS)
    elapsed = time.monotonic() - started

    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == [], errors
    statuses = sorted(r["payment_status"] for r in results)
    assert statuses == [200] * UNITS + [409] * (SHOPPERS - UNITS), statuses
    losers = [r for r in results if r["payment_status"] != 200]
    winners = [r for r in results if r["payment_status"] == 200]
    for loser in losers:
        error = loser["payment_body"]["error"]
        assert error["code"] == "out_of_stock"
        assert variant.sku in error["message"]
    assert [w["complete_status"] for w in winners] == [200] * UNITS
    assert {w["order"]["status"] for w in winners} == {"paid"}

    assert Order.objects.filter(status="paid").count() == UNITS
    assert Order.objects.exclude(status="paid").count() == 0
    stock = StockItem.objects.get(variant=variant)
    assert stock.on_hand == 0
    sales = StockMovement.objects.filter(variant=variant, reason="sale")
    assert sorted(m.on_hand_after for m in sales) == [0, 1, 2, 3, 4]
    # Nobody else was charged: losers never got an intent, and localstripe
    # holds exactly one succeeded, unrefunded intent per paid order.
    assert Payment.objects.count() == UNITS
    intents = _intents_by_checkout()
    for loser in losers:
        assert loser["checkout_id"] not in intents
    for winner in winners:
        (intent,) = intents[winner["checkout_id"]]
        assert intent.status == "succeeded"
        assert intent.amount == winner["order"]["totals"]["total"]["amount"]
    assert elapsed < 60, f"took {elapsed:.1f}s"


# --- acceptance 5: one intent, many webhook deliveries at once ---------------


def test_payment_succeeded_webhook_storm_finalises_once(
    localstripe, shipping_method, api_client
):
    from tests.checkout.conftest import api_checkout_to_payment

    coupon = CouponFactory(code="STORM10", value=1000, usage_limit=10)
    variant = VariantFactory(stock=7, weight_grams=200, price_minor=2000)
    cart, _ = cart_services.cart_create(user=None, currency="USD")
    cart_services.cart_line_add(cart=cart, sku=variant.sku, quantity=2)
    cart_services.cart_coupon_apply(cart=cart, code=coupon.code)
    session = api_checkout_to_payment(
        api_client, cart, email="storm@example.com", method=shipping_method
    )
    order = Order.objects.get(number=session["order_number"])
    assert order.discount_minor == 400  # 10 % of 2 × 20.00
    confirm_card(session["payment_intent_id"])
    succeeded = testing.payment_intent_payload(
        payment_intent_id=session["payment_intent_id"]
    )
    assert succeeded["status"] == "succeeded"
    stale_failed = {
        **succeeded,
        "status": "requires_payment_method",
        "last_payment_error": {"message": "Your card was declined."},
    }
    stale_created = {**succeeded, "status": "requires_payment_method"}
    endpoint = webhook_endpoint()
    same_id = f"evt_{uuid.uuid4().hex[:24]}"
    bodies = [
        # Stripe may redeliver one event and also emit distinct events for
        # the same intent; dj-stripe dedups only by event id.
        event_body("payment_intent.succeeded", succeeded, event_id=same_id),
        event_body("payment_intent.succeeded", succeeded, event_id=same_id),
        event_body("payment_intent.succeeded", succeeded, event_id=same_id),
        event_body("payment_intent.succeeded", succeeded),
        event_body("payment_intent.succeeded", succeeded),
        # Out of order: older events for the same intent arrive with them.
        event_body("payment_intent.payment_failed", stale_failed),
        event_body("payment_intent.created", stale_created),
    ]
    barrier = threading.Barrier(len(bodies), timeout=30)

    def post(i: int) -> int:
        barrier.wait()
        return deliver(endpoint, bodies[i]).status_code

    statuses = _run_threads(post, len(bodies))

    assert statuses == [200] * len(bodies), statuses
    order.refresh_from_db()
    assert order.status == "paid"
    assert OrderEvent.objects.filter(order=order, to_status="paid").count() == 1
    sales = StockMovement.objects.filter(variant=variant, reason="sale")
    assert [m.quantity for m in sales] == [-2]
    assert StockItem.objects.get(variant=variant).on_hand == 5
    assert CouponRedemption.objects.filter(order_ref=order.number).count() == 1
    coupon.refresh_from_db()
    assert coupon.times_redeemed == 1
    mails = Notification.objects.filter(kind="checkout.order_confirmation")
    assert [n.recipient for n in mails] == ["storm@example.com"]
    assert Payment.objects.get().status == "succeeded"
    assert order.checkout.state == "completed"

    # A late, stale failure after the order is paid changes nothing.
    failures = OrderEvent.objects.filter(order=order, kind="payment_failed").count()
    late = deliver(
        endpoint,
        event_body("payment_intent.payment_failed", stale_failed),
    )
    assert late.status_code == 200
    assert (
        OrderEvent.objects.filter(order=order, kind="payment_failed").count()
        == failures
    )
    order.checkout.refresh_from_db()
    assert order.checkout.state == "completed"
    assert Payment.objects.get().status == "succeeded"


# --- acceptance 6: a double-submitted "pay" creates one PaymentIntent ----------


def _localstripe_intents(checkout_id: str) -> list[str]:
    """Every PaymentIntent localstripe holds for this checkout (by metadata)."""
    import stripe

    intents = stripe.PaymentIntent.list(api_key=gateway.secret_key(), limit=100)
    return [
        pi.id
        for pi in intents.auto_paging_iter()
        if (pi.metadata or {}).get("checkout_id") == checkout_id
    ]


@pytest.mark.parametrize("keys", ["none", "distinct"])
def test_two_identical_payment_posts_in_parallel_create_one_intent(
    localstripe, shipping_method, keys
):
    from tests.parallel import run_in_parallel

    variant = VariantFactory(stock=5, weight_grams=200, price_minor=2000)
    cart, _ = cart_services.cart_create(user=None, currency="USD")
    cart_services.cart_line_add(cart=cart, sku=variant.sku, quantity=1)
    client = APIClient()
    r = client.post(
        "/api/v1/checkouts/",
        {"cart": str(cart.pk), "email": "double@example.com"},
        format="json",
    )
    checkout_id = r.json()["id"]
    r = client.patch(
        f"/api/v1/checkouts/{checkout_id}/",
        {"shipping_address": ADDRESS, "shipping_method": shipping_method.pk},
        format="json",
    )
    assert r.status_code == 200, r.content
    url = f"/api/v1/checkouts/{checkout_id}/payment/"

    def pay():
        headers = (
            {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())} if keys == "distinct" else {}
        )
        response = APIClient().post(url, format="json", **headers)
        return response.status_code, response.json()

    results, errors = run_in_parallel([pay, pay])

    assert errors == []
    assert [status for status, _body in results] == [200, 200], results
    intent_ids = {body["payment_intent_id"] for _status, body in results}
    assert len(intent_ids) == 1
    assert _localstripe_intents(checkout_id) == list(intent_ids)
    assert Payment.objects.count() == 1
    assert Order.objects.filter(status="pending_payment").count() == 1
