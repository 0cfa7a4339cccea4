"""The six checkout audit events are written by the real flow, with the ip,
user agent and user of the request behind them (none for webhooks)."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from apps.checkout import services
from apps.checkout.models import Checkout, Order
from apps.core.models import AuditLog
from tests.accounts.factories import UserFactory
from tests.checkout.conftest import api_checkout_to_payment, confirm_card, idem

pytestmark = [pytest.mark.django_db, pytest.mark.localstripe]

IP = "203.0.113.7"
UA = "ShopApp/2.1 (iPhone; iOS 17.2)"


@pytest.fixture
def app_client():
    return APIClient(REMOTE_ADDR=IP, HTTP_USER_AGENT=UA)


def _one(action: str) -> AuditLog:
    (row,) = AuditLog.objects.filter(action=action)
    return row


def _from_request(row: AuditLog, *, user=None) -> None:
    assert (row.ip_address, row.user_agent) == (IP, UA)
    assert row.actor == user


def test_audit_checkout_started_and_payment_initiated_from_api(
    app_client, make_cart, shipping_method, localstripe
):
    session = api_checkout_to_payment(app_client, make_cart(), method=shipping_method)

    started = _one("checkout_started")
    _from_request(started)
    assert (started.object_type, started.object_id) == (
        "checkout.checkout",
        session["checkout_id"],
    )
    initiated = _one("payment_initiated")
    _from_request(initiated)
    order = Order.objects.get()
    assert (initiated.object_type, initiated.object_id) == (
        "checkout.order",
        str(order.pk),
    )
    assert initiated.data["intent"] == session["payment_intent_id"]
    assert initiated.data["amount_minor"] == order.total_minor


def test_audit_payment_succeeded_and_order_paid_from_complete_signed_in(
    app_client,
    make_cart,
    shipping_method,
    localstripe,
    django_capture_on_commit_callbacks,
):
    user = UserFactory()
    app_client.force_authenticate(user)
    session = api_checkout_to_payment(
        app_client, make_cart(user=user), email="", method=shipping_method
    )
    confirm_card(session["payment_intent_id"])

    with django_capture_on_commit_callbacks(execute=True):
        r = app_client.post(
            f"/api/v1/checkouts/{session['checkout_id']}/complete/",
            format="json",
            **idem(),
        )

    assert r.status_code == 200, r.content
    order = Order.objects.get()
    succeeded = _one("payment_succeeded")
    _from_request(succeeded, user=user)
    assert succeeded.data == {
        "intent": session["payment_intent_id"],
        "source": "complete",
    }
    paid = _one("order_paid")
    _from_request(paid, user=user)
    assert paid.object_id == str(order.pk)
    assert paid.data == {"total_minor": order.total_minor}
    # The signed-in shopper started it too.
    assert _one("checkout_started").actor == user


def test_audit_payment_failed_from_declined_complete(
    app_client, make_cart, shipping_method, localstripe
):
    session = api_checkout_to_payment(app_client, make_cart(), method=shipping_method)
    with pytest.raises(Exception):  # noqa: B017, PT011 - the SDK sees the decline
        confirm_card(session["payment_intent_id"], "4000000000000002")

    r = app_client.post(
        f"/api/v1/checkouts/{session['checkout_id']}/complete/", format="json"
    )

    assert r.status_code == 402
    failed = _one("payment_failed")
    _from_request(failed)
    assert failed.data["intent"] == session["payment_intent_id"]
    assert failed.data["error"] == "Your card was declined."


def test_audit_payment_failed_from_webhook_has_no_request(
    app_client, make_cart, shipping_method, localstripe
):
    session = api_checkout_to_payment(app_client, make_cart(), method=shipping_method)

    services.order_payment_failed(
        intent_id=session["payment_intent_id"], error_message="Card expired."
    )

    failed = _one("payment_failed")
    assert (failed.ip_address, failed.user_agent, failed.actor) == (None, "", None)
    assert failed.data["error"] == "Card expired."


def test_audit_refund_processed_from_admin_refund_with_staff_request(
    app_client, make_cart, shipping_method, localstripe, client
):
    session = api_checkout_to_payment(app_client, make_cart(), method=shipping_method)
    confirm_card(session["payment_intent_id"])
    order = services.checkout_complete(
        checkout=Checkout.objects.get(pk=session["checkout_id"])
    )
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)

    r = client.post(
        reverse("admin:checkout_order_refund", args=[order.pk]),
        {"restock": ""},
        REMOTE_ADDR="198.51.100.4",
        HTTP_USER_AGENT="StaffBrowser/1.0",
    )

    assert r.status_code == 302, r.content
    refund = _one("refund_processed")
    assert (refund.ip_address, refund.user_agent) == (
        "198.51.100.4",
        "StaffBrowser/1.0",
    )
    assert refund.actor == staff
    assert refund.object_id == str(order.pk)
    assert refund.data["amount"] == order.total_minor
    assert refund.data["refund"].startswith("re_")


def test_audit_refund_processed_from_automatic_refund(
    app_client, make_cart, shipping_method, localstripe
):
    """Paid but the amount does not match the order: refunded by the system."""
    session = api_checkout_to_payment(app_client, make_cart(), method=shipping_method)
    confirm_card(session["payment_intent_id"])
    order = Order.objects.get()

    services.order_payment_succeeded(
        intent_id=session["payment_intent_id"],
        source="webhook",
        stripe_amount=(order.total_minor + 1, order.currency),
    )

    refund = _one("refund_processed")
    assert refund.data["automatic"] is True
    assert (refund.ip_address, refund.actor) == (None, None)
