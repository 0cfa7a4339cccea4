"""Idempotency, ownership (404) and query counts of the checkout API."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
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
    from tests.checkout.factories import ShippingMethodFactory

    express = ShippingMethodFactory(
        zone=shipping_method.zone, price_minor=shipping_method.price_minor + 2000
    )
    cart = make_cart()
    session = api_checkout_to_payment(api_client, cart, method=shipping_method)
    # The cart is locked once payment starts; a step can still change.
    r = api_client.patch(
        f"/api/v1/checkouts/{session['checkout_id']}/",
        {"shipping_method": express.pk},
        format="json",
    )
    assert r.status_code == 200, r.content

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


def test_complete_five_line_cart_within_target_of_25_queries(
    api_client,
    make_cart,
    shipping_method,
    localstripe,
    django_capture_on_commit_callbacks,
    django_assert_num_queries,
):
    cart = make_cart(
        lines=tuple((VariantFactory(stock=9, weight_grams=10), 1) for _ in range(5))
    )
    session = api_checkout_to_payment(api_client, cart, method=shipping_method)
    confirm_card(session["payment_intent_id"])

    # Every statement counts, SAVEPOINT/RELEASE included, and the mobile
    # client's Idempotency-Key too. The confirmation mail is sent by a task
    # after commit (a worker, not this request), so callbacks are not run.
    # Issue 12's target is at most 25 (37 before it). Pinned at what it
    # costs now, 24, so it only moves on purpose (see tests/checkout/
    # test_query_budget.py for what each statement is).
    with (
        django_capture_on_commit_callbacks(execute=False) as callbacks,
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
    assert len(r.json()["lines"]) == 5
    # One email queued (the confirmation); the rest bump the catalogue cache.
    assert sum("send_notification" in repr(c) for c in callbacks) == 1
    assert Order.objects.get().status == "paid"


def _checkout_with_lines(client, make_cart, shipping_method, n: int) -> str:
    cart = make_cart(lines=tuple((None, 1) for _ in range(n)))
    checkout_id = client.post(
        "/api/v1/checkouts/",
        {"cart": str(cart.pk), "email": "a@example.com"},
        format="json",
    ).json()["id"]
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
    assert r.json()["next_step"] == "payment"
    return checkout_id


def test_checkout_detail_query_count_independent_of_lines(make_cart, shipping_method):
    counts = {}
    for n in (1, 5):
        client = APIClient()
        checkout_id = _checkout_with_lines(client, make_cart, shipping_method, n)
        with CaptureQueriesContext(connection) as ctx:
            r = client.get(f"/api/v1/checkouts/{checkout_id}/")
        assert r.status_code == 200
        assert len(r.json()["lines"]) == n
        counts[n] = len(ctx.captured_queries)

    assert counts[1] == counts[5], counts


# --- the stock hold is renewed while the shopper is active ------------------


def _holds(checkout_id):
    from apps.inventory.models import Reservation

    return list(
        Reservation.objects.filter(ref=f"checkout:{checkout_id}").order_by("pk")
    )


def _age_holds(checkout_id, *, expires_in):
    from django.utils import timezone

    from apps.inventory.models import Reservation

    Reservation.objects.filter(ref=f"checkout:{checkout_id}").update(
        expires_at=timezone.now() + expires_in
    )


def test_checkout_step_hits_renew_stock_hold_of_active_shopper(
    api_client, make_cart, shipping_method, localstripe
):
    from datetime import timedelta

    from django.utils import timezone

    cart = make_cart(lines=((None, 2),), stock=3)
    session = api_checkout_to_payment(api_client, cart, method=shipping_method)
    checkout_id = session["checkout_id"]
    (first,) = _holds(checkout_id)
    url = f"/api/v1/checkouts/{checkout_id}/"

    # Just made: a hit does not rewrite it.
    assert api_client.get(url).status_code == 200
    assert [h.pk for h in _holds(checkout_id)] == [first.pk]

    # Ten minutes later, two minutes are left: the next hit renews to 15.
    _age_holds(checkout_id, expires_in=timedelta(minutes=2))
    assert api_client.get(f"{url}shipping-methods/").status_code == 200
    holds = _holds(checkout_id)
    active = [h for h in holds if h.status == "active"]
    assert len(active) == 1
    assert active[0].quantity == 2
    assert active[0].expires_at > timezone.now() + timedelta(minutes=14)
    # The renewed hold still keeps the 2 units from another shopper.
    from apps.carts.exceptions import InsufficientStock

    with pytest.raises(InsufficientStock, match="Only 1 of"):
        make_cart(lines=((cart.lines.get().variant, 2),))


def test_checkout_page_hit_renews_stock_hold_of_active_shopper(
    api_client, client, make_cart, shipping_method, localstripe
):
    from datetime import timedelta

    from django.utils import timezone

    cart = make_cart(lines=((None, 2),), stock=3)
    session = api_checkout_to_payment(api_client, cart, method=shipping_method)
    checkout_id = session["checkout_id"]
    _age_holds(checkout_id, expires_in=timedelta(minutes=2))

    # A guest checkout's pages are reachable through its unguessable id.
    response = client.get(f"/checkout/{checkout_id}/shipping-method/")

    assert response.status_code == 200
    (active,) = [h for h in _holds(checkout_id) if h.status == "active"]
    assert active.expires_at > timezone.now() + timedelta(minutes=14)


def test_checkout_step_hit_after_hold_expired_does_not_revive_it(
    api_client, make_cart, shipping_method, localstripe
):
    from datetime import timedelta

    cart = make_cart()
    session = api_checkout_to_payment(api_client, cart, method=shipping_method)
    checkout_id = session["checkout_id"]
    _age_holds(checkout_id, expires_in=-timedelta(minutes=1))

    assert api_client.get(f"/api/v1/checkouts/{checkout_id}/").status_code == 200

    from django.utils import timezone

    (hold,) = _holds(checkout_id)
    assert hold.expires_at < timezone.now()  # not renewed, nothing new held


def test_checkout_paid_then_step_hit_leaves_no_new_hold(
    api_client,
    make_cart,
    shipping_method,
    localstripe,
    django_capture_on_commit_callbacks,
):
    from datetime import timedelta

    cart = make_cart()
    session = api_checkout_to_payment(api_client, cart, method=shipping_method)
    checkout_id = session["checkout_id"]
    confirm_card(session["payment_intent_id"])
    with django_capture_on_commit_callbacks(execute=True):
        api_client.post(f"/api/v1/checkouts/{checkout_id}/complete/")
    _age_holds(checkout_id, expires_in=timedelta(minutes=2))

    api_client.get(f"/api/v1/checkouts/{checkout_id}/")

    assert [h.status for h in _holds(checkout_id)] == ["committed"]


# --- the totals a write hands to its response are the ones a read computes ---


def test_checkout_patch_response_matches_fresh_read_after_payment_started(
    api_client, make_cart, shipping_method, localstripe
):
    from tests.checkout.factories import ShippingMethodFactory

    express = ShippingMethodFactory(zone=shipping_method.zone, price_minor=1500)
    cart = make_cart(lines=((None, 2), (None, 1)))
    session = api_checkout_to_payment(api_client, cart, method=shipping_method)
    url = f"/api/v1/checkouts/{session['checkout_id']}/"

    patched = api_client.patch(url, {"shipping_method": express.pk}, format="json")
    read = api_client.get(url)

    assert patched.status_code == 200, patched.content
    assert patched.json() == read.json()
    body = patched.json()
    assert body["order_number"] == session["order_number"]
    assert body["totals"]["shipping"]["amount"] == 1500
    assert body["totals"]["total"]["amount"] == 3 * 2000 + 1500
    assert body["next_step"] == "payment"


def test_checkout_create_response_matches_fresh_read(api_client, make_cart):
    cart = make_cart(lines=((None, 3),))

    created = api_client.post(
        "/api/v1/checkouts/",
        {"cart": str(cart.pk), "email": "A@Example.com"},
        format="json",
    )
    read = api_client.get(f"/api/v1/checkouts/{created.json()['id']}/")

    assert created.status_code == 201
    assert created.json() == read.json()
    assert created.json()["email"] == "a@example.com"
    assert created.json()["state"] == "shipping_address"
    assert created.json()["totals"]["subtotal"]["amount"] == 3 * 2000


def test_checkout_empty_patch_of_completed_checkout_changes_nothing(
    api_client,
    make_cart,
    shipping_method,
    localstripe,
    django_capture_on_commit_callbacks,
):
    cart = make_cart()
    session = api_checkout_to_payment(api_client, cart, method=shipping_method)
    confirm_card(session["payment_intent_id"])
    url = f"/api/v1/checkouts/{session['checkout_id']}/"
    with django_capture_on_commit_callbacks(execute=True):
        api_client.post(f"{url}complete/", format="json")

    r = api_client.patch(url, {}, format="json")
    refused = api_client.patch(url, {"email": "late@example.com"}, format="json")

    assert r.status_code == 200, r.content
    assert r.json()["state"] == "completed"
    assert r.json()["order_number"] == session["order_number"]
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "invalid_state_transition"
