"""Acceptance 3: the purchase through /api/v1/ only, guest and signed in."""

import pytest
from django.core import mail

from apps.checkout.models import Checkout, Order
from apps.inventory.models import StockItem
from tests.accounts.factories import UserFactory
from tests.checkout.conftest import ADDRESS, api_checkout_to_payment, confirm_card, idem

pytestmark = [pytest.mark.localstripe, pytest.mark.django_db]


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
    confirm_card(session["payment_intent_id"])
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
    api_client,
    make_cart,
    shipping_method,
    localstripe,
    django_capture_on_commit_callbacks,
):
    user = UserFactory()
    api_client.force_authenticate(user)
    cart = make_cart(user=user)

    session = api_checkout_to_payment(
        api_client, cart, email="", method=shipping_method
    )
    confirm_card(session["payment_intent_id"])
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


def test_checkout_api_declined_card_complete_402_then_second_card_pays(
    api_client,
    make_cart,
    shipping_method,
    localstripe,
    django_capture_on_commit_callbacks,
):
    cart = make_cart()
    session = api_checkout_to_payment(api_client, cart, method=shipping_method)
    with pytest.raises(Exception):  # noqa: B017, PT011 - the SDK sees the decline
        confirm_card(session["payment_intent_id"], "4000000000000002")

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
    confirm_card(session["payment_intent_id"])
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
