"""Acceptance 3: the purchase through /api/v1/ only, guest and signed in."""

import pytest
import requests
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from apps.checkout.models import Checkout, Order
from apps.inventory.models import StockItem
from tests.accounts.factories import PASSWORD, UserFactory
from tests.checkout.conftest import ADDRESS, api_checkout_to_payment, idem

pytestmark = [pytest.mark.localstripe, pytest.mark.django_db]


def sdk_confirm(localstripe: str, session: dict, card: str = "4242424242424242"):
    """Confirm as the mobile Stripe SDK does: straight to Stripe (localstripe)
    over HTTP with the publishable key and client secret the payment endpoint
    returned, never the server's secret key."""
    assert session["publishable_key"].startswith("pk_")
    return requests.post(
        f"{localstripe}/v1/payment_intents/{session['payment_intent_id']}/confirm",
        json={
            "key": session["publishable_key"],
            "client_secret": session["client_secret"],
            "payment_method_data": {
                "type": "card",
                "card": {
                    "number": card,
                    "exp_month": "12",
                    "exp_year": "2034",
                    "cvc": "123",
                },
            },
        },
        timeout=10,
    )


def app_token_client(user) -> APIClient:
    """An API client signed in as the app is: allauth headless login → JWT."""
    r = Client().post(
        "/_allauth/app/v1/auth/login",
        {"email": user.email, "password": PASSWORD},
        content_type="application/json",
    )
    assert r.status_code == 200, r.content
    token = r.json()["meta"]["access_token"]
    return APIClient(HTTP_AUTHORIZATION=f"Bearer {token}")


def test_checkout_api_guest_purchase_paid_order_stock_down_email_sent(
    api_client,
    make_cart,
    shipping_method,
    tax_rate,
    localstripe,
    django_capture_on_commit_callbacks,
):
    cart = make_cart(lines=((None, 2),), price=2000)
    variant_id = cart.lines.get().variant_id

    session = api_checkout_to_payment(api_client, cart, method=shipping_method)
    # 2 × 20.00 + 5.00 shipping, 10 % tax on both = 49.50
    assert session["amount"] == {"amount": 4950, "currency": "USD"}
    assert session["client_secret"]
    confirmed = sdk_confirm(localstripe, session)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "succeeded"
    with django_capture_on_commit_callbacks(execute=True):
        r = api_client.post(
            f"/api/v1/checkouts/{session['checkout_id']}/complete/",
            format="json",
            **idem(),
        )

    assert r.status_code == 200, r.content
    body = r.json()
    assert body["status"] == "paid"
    assert body["totals"]["total"] == {"amount": 4950, "currency": "USD"}
    assert StockItem.objects.get(variant_id=variant_id).on_hand == 48
    assert [m.to for m in mail.outbox] == [["guest@example.com"]]
    assert body["number"] in mail.outbox[0].subject
    assert Checkout.objects.get().state == "completed"
    cart.refresh_from_db()
    assert cart.status == "checked_out"
    r = api_client.get(f"/api/v1/checkouts/{session['checkout_id']}/order/")
    assert r.json()["number"] == body["number"]


def test_checkout_api_signed_in_purchase_listed_in_orders(
    make_cart,
    shipping_method,
    localstripe,
    django_capture_on_commit_callbacks,
):
    user = UserFactory(verified_email=True)
    api_client = app_token_client(user)
    cart = make_cart(user=user, stock=10)
    variant_id = cart.lines.get().variant_id

    session = api_checkout_to_payment(
        api_client, cart, email="", method=shipping_method
    )
    confirmed = sdk_confirm(localstripe, session)
    assert confirmed.status_code == 200, confirmed.text
    with django_capture_on_commit_callbacks(execute=True):
        r = api_client.post(
            f"/api/v1/checkouts/{session['checkout_id']}/complete/", format="json"
        )

    assert r.status_code == 200, r.content
    number = r.json()["number"]
    listed = api_client.get("/api/v1/orders/").json()
    assert [o["number"] for o in listed] == [number]
    detail = api_client.get(f"/api/v1/orders/{number}/")
    assert detail.json()["status"] == "paid"
    assert Order.objects.get().user == user
    assert mail.outbox[0].to == [user.email]
    assert StockItem.objects.get(variant_id=variant_id).on_hand == 9
    # The token, not a session, authenticated every call.
    assert APIClient().get("/api/v1/orders/").status_code in (401, 403)


def test_checkout_api_declined_card_complete_402_then_second_card_pays(
    api_client,
    make_cart,
    shipping_method,
    localstripe,
    django_capture_on_commit_callbacks,
):
    cart = make_cart()
    session = api_checkout_to_payment(api_client, cart, method=shipping_method)
    declined = sdk_confirm(localstripe, session, "4000000000000002")
    assert declined.status_code == 402, declined.text

    r = api_client.post(
        f"/api/v1/checkouts/{session['checkout_id']}/complete/", format="json"
    )
    assert r.status_code == 402
    assert r.json()["error"]["message"] == "Your card was declined."
    assert Checkout.objects.get().state == "payment_failed"

    again = api_client.post(
        f"/api/v1/checkouts/{session['checkout_id']}/payment/", format="json"
    ).json()
    assert again["payment_intent_id"] == session["payment_intent_id"]
    assert sdk_confirm(localstripe, again).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        r = api_client.post(
            f"/api/v1/checkouts/{session['checkout_id']}/complete/", format="json"
        )
    assert r.json()["status"] == "paid"
    assert Order.objects.count() == 1


def test_checkout_api_patch_invalid_postal_code_errors_per_field(
    api_client, make_cart, shipping_method
):
    cart = make_cart()
    r = api_client.post(
        "/api/v1/checkouts/",
        {"cart": str(cart.pk), "email": "a@example.com"},
        format="json",
    )
    checkout_id = r.json()["id"]
    assert r.json()["next_step"] == "shipping_address"

    r = api_client.patch(
        f"/api/v1/checkouts/{checkout_id}/",
        {"shipping_address": {**ADDRESS, "postal_code": "ABCDE"}},
        format="json",
    )

    assert r.status_code == 400
    fields = r.json()["error"]["details"]["fields"]
    assert "postal_code" in fields["shipping_address"]


def test_checkout_api_patch_refused_in_part_changes_nothing(
    api_client, make_cart, shipping_method
):
    cart = make_cart()
    r = api_client.post(
        "/api/v1/checkouts/",
        {"cart": str(cart.pk), "email": "first@example.com"},
        format="json",
    )
    checkout_id = r.json()["id"]
    before = Checkout.objects.get(pk=checkout_id)

    r = api_client.patch(
        f"/api/v1/checkouts/{checkout_id}/",
        {
            "email": "second@example.com",
            "shipping_address": ADDRESS,
            "shipping_method": shipping_method.pk + 999,  # not offered
        },
        format="json",
    )

    assert r.status_code == 400
    assert "shipping_method" in r.json()["error"]["details"]["fields"]
    after = Checkout.objects.get(pk=checkout_id)
    assert after.email == "first@example.com"
    assert after.shipping_address == before.shipping_address
    assert after.state == before.state
    assert api_client.get(f"/api/v1/checkouts/{checkout_id}/").json()["next_step"] == (
        "shipping_address"
    )
