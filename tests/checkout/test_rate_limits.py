"""Rate limits: checkout endpoints 50 and payment creation 10 per 5 minutes."""

import time

import pytest
from rest_framework.test import APIClient

from apps.core import ratelimit
from tests.accounts.factories import UserFactory
from tests.checkout.conftest import ADDRESS

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    """Stop the rate limits' clock so a window cannot roll over mid-test."""
    now = int(time.time())
    monkeypatch.setattr(ratelimit, "clock", lambda: now)
    return now


def _start(client, cart, *, email="a@example.com") -> str:
    r = client.post(
        "/api/v1/checkouts/", {"cart": str(cart.pk), "email": email}, format="json"
    )
    assert r.status_code == 201, r.content
    return r.json()["id"]


def _assert_rate_limited(response, *, window_seconds: int) -> None:
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["code"] == "rate_limited"
    retry_after = error["details"]["retry_after"]
    assert error["message"] == (
        f"Too many requests. Try again later. "
        f"Expected available in {retry_after} seconds."
    )
    assert 1 <= retry_after <= window_seconds
    assert response["Retry-After"] == str(retry_after)


def test_checkout_rate_settings_unset_defaults_50_and_10_per_5_minutes(settings):
    for name in ("CHECKOUT_RATE", "CHECKOUT_PAYMENT_RATE"):
        if hasattr(settings, name):
            delattr(settings, name)

    assert ratelimit.rate_for("checkout") == "50/5m"
    assert ratelimit.rate_for("checkout-payment") == "10/5m"


def test_checkout_endpoints_51st_request_in_window_429_with_retry_after(
    make_cart, settings, frozen_clock
):
    for name in ("CHECKOUT_RATE", "CHECKOUT_PAYMENT_RATE"):
        if hasattr(settings, name):
            delattr(settings, name)  # the configured defaults, not a test rate
    client = APIClient()
    checkout_id = _start(client, make_cart())  # request 1
    url = f"/api/v1/checkouts/{checkout_id}/"

    statuses = [client.get(url).status_code for _ in range(49)]  # 2 … 50
    blocked = client.get(url)

    assert statuses == [200] * 49
    _assert_rate_limited(blocked, window_seconds=300)
    # Retry-After is the time left in this client's 5-minute window, which
    # opened with its first request (the clock is stopped: all of it).
    assert blocked["Retry-After"] == "300"
    # Every checkout endpoint shares the budget, whatever the method.
    again = client.patch(url, {"email": "b@example.com"}, format="json")
    _assert_rate_limited(again, window_seconds=300)
    quotes = client.get(f"{url}shipping-methods/")
    _assert_rate_limited(quotes, window_seconds=300)


def test_checkout_rate_limit_is_per_client(make_cart, settings):
    settings.CHECKOUT_RATE = "3/5m"
    crowded = APIClient(REMOTE_ADDR="10.0.0.1")
    checkout_id = _start(crowded, make_cart())
    url = f"/api/v1/checkouts/{checkout_id}/"
    crowded.get(url)
    crowded.get(url)
    assert crowded.get(url).status_code == 429

    other_ip = APIClient(REMOTE_ADDR="10.0.0.2")
    assert other_ip.get(url).status_code == 200
    user = UserFactory()
    signed_in = APIClient(REMOTE_ADDR="10.0.0.1")  # same IP, own budget
    signed_in.force_authenticate(user)
    assert _start(signed_in, make_cart(user=user), email=user.email)


def test_payment_create_11th_in_window_429_while_other_steps_continue(
    make_cart, shipping_method, settings
):
    for name in ("CHECKOUT_RATE", "CHECKOUT_PAYMENT_RATE"):
        if hasattr(settings, name):
            delattr(settings, name)
    client = APIClient()
    checkout_id = _start(client, make_cart())
    url = f"/api/v1/checkouts/{checkout_id}/payment/"

    # The address step is still missing: each attempt is refused (409) but
    # still counts, so no Stripe call is needed to exhaust the budget.
    attempts = [client.post(url, format="json") for _ in range(10)]
    blocked = client.post(url, format="json")

    assert {r.json()["error"]["code"] for r in attempts} == {"checkout_incomplete"}
    _assert_rate_limited(blocked, window_seconds=300)
    # The general checkout budget (12 of 50 used) still lets the shopper on.
    r = client.patch(
        f"/api/v1/checkouts/{checkout_id}/",
        {"shipping_address": ADDRESS, "shipping_method": shipping_method.pk},
        format="json",
    )
    assert r.status_code == 200, r.content
    _assert_rate_limited(client.post(url, format="json"), window_seconds=300)


@pytest.mark.localstripe
def test_payment_page_11th_post_in_window_429_page_while_other_steps_continue(
    client, make_cart, shipping_method, localstripe, settings, frozen_clock
):
    from tests.checkout.test_views import checkout_at, url

    for name in ("CHECKOUT_RATE", "CHECKOUT_PAYMENT_RATE"):
        if hasattr(settings, name):
            delattr(settings, name)
    checkout = checkout_at(make_cart(), "payment", method=shipping_method)

    # Only POSTs start a payment, so only they count (GETs only read).
    pages = [client.post(url(checkout, "payment")) for _ in range(10)]
    assert client.get(url(checkout, "payment")).status_code == 200
    blocked = client.post(url(checkout, "payment"))

    assert [r.status_code for r in pages] == [302] * 10
    assert blocked.status_code == 429
    html = blocked.content.decode()
    assert "Too many payment attempts" in html
    # The real time left in the client's window, not a fixed minute.
    wait = 300  # the window opened with the first request; the clock is stopped
    assert blocked["Retry-After"] == str(wait)
    minutes = -(-wait // 60)
    assert f"Please wait {minutes} minute{'s' if minutes > 1 else ''}, then" in html
    # Only payment is limited: the other steps still answer (12 of 50 used).
    assert client.get(url(checkout, "shipping-method")).status_code == 200


@pytest.mark.localstripe
def test_payment_page_and_api_share_the_payment_budget(
    client, make_cart, shipping_method, localstripe, settings
):
    from tests.checkout.test_views import checkout_at, url

    settings.CHECKOUT_PAYMENT_RATE = "3/5m"
    checkout = checkout_at(make_cart(), "payment", method=shipping_method)
    api = APIClient()  # the same client address as the page client
    for _ in range(2):
        assert api.post(f"/api/v1/checkouts/{checkout.pk}/payment/").status_code == 200
    assert client.post(url(checkout, "payment")).status_code == 302
    assert client.post(url(checkout, "payment")).status_code == 429
