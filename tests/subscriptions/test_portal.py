"""Stripe's Billing Portal from the account page (real Stripe only)."""

import pytest
from django.contrib.messages import get_messages

from apps.billing import gateway
from apps.billing.gateway.types import HostedSessionSnapshot
from apps.subscriptions.models import Customer
from tests.subscriptions.factories import SubscriptionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def subscriber(client):
    sub = SubscriptionFactory(status="active")
    Customer.objects.create(user=sub.user, stripe_id="cus_portal1")
    client.force_login(sub.user)
    return sub


@pytest.fixture
def real_stripe(settings, monkeypatch):
    """Real Stripe's host with a gateway-level fake of the Billing Portal call.

    localstripe has no Billing Portal and tests never reach the internet, so
    the one Stripe call is recorded and answered here.
    """
    settings.STRIPE_API_HOST = "https://api.stripe.com"
    calls = []

    def create(*, customer, return_url):
        calls.append((customer, return_url))
        return HostedSessionSnapshot(
            id="bps_1", url="https://billing.stripe.com/p/session/test_1"
        )

    monkeypatch.setattr(gateway, "billing_portal_session_create", create)
    return calls


def test_portal_on_real_stripe_button_shown_and_post_redirects_to_stripe(
    client, subscriber, real_stripe
):
    page = client.get("/account/subscription/").content.decode()
    assert 'data-testid="billing-portal"' in page

    response = client.post("/account/billing-portal/")

    assert response.status_code == 302
    assert response["Location"] == "https://billing.stripe.com/p/session/test_1"
    assert real_stripe == [("cus_portal1", "http://testserver/account/subscription/")]


def test_portal_get_is_refused_and_opens_no_session(client, subscriber, real_stripe):
    assert client.get("/account/billing-portal/").status_code == 405
    assert real_stripe == []


def test_portal_without_stripe_customer_says_so(client, real_stripe, django_user_model):
    user = django_user_model.objects.create_user(email="n@example.com", password="x")
    client.force_login(user)

    response = client.post("/account/billing-portal/")

    assert response["Location"] == "/account/subscription/"
    (message,) = get_messages(response.wsgi_request)
    assert "no billing account" in str(message)
    assert real_stripe == []


def test_portal_on_localstripe_hidden_and_refused_with_the_reason(client, subscriber):
    page = client.get("/account/subscription/").content.decode()
    assert 'data-testid="billing-portal"' not in page

    response = client.post("/account/billing-portal/")

    assert response["Location"] == "/account/subscription/"
    (message,) = get_messages(response.wsgi_request)
    assert "Billing Portal API is not available" in str(message)


def test_portal_anonymous_goes_to_login(client):
    response = client.post("/account/billing-portal/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
