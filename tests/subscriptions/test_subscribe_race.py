"""One live subscription per user, under real parallel requests (PostgreSQL)."""

import uuid

import pytest
import requests
from rest_framework.test import APIClient

from apps.billing import gateway
from apps.billing.gateway import subscriptions as gw
from apps.subscriptions.models import Customer, Subscription
from tests.accounts.factories import UserFactory
from tests.parallel import run_in_parallel
from tests.subscriptions.conftest import intent_id


def stripe_list(path: str, **params) -> list[dict]:
    """Every object of a localstripe list, page by page."""
    found: list[dict] = []
    while True:
        response = requests.get(
            gateway.api_host() + path,
            params={"limit": 100, **params},
            auth=(gateway.secret_key(), ""),
            timeout=10,
        )
        assert response.status_code == 200, response.text
        page = response.json()
        found += page["data"]
        if not page["has_more"]:
            return found
        params["starting_after"] = page["data"][-1]["id"]


pytestmark = [
    pytest.mark.postgres,
    pytest.mark.localstripe,
    pytest.mark.django_db(transaction=True),
]


def test_ten_parallel_subscribe_requests_give_one_subscription_one_intent(
    pushed_price,
):
    user = UserFactory()
    price = pushed_price(amount=1500)

    def subscribe():
        client = APIClient()
        client.force_authenticate(user)
        response = client.post(
            "/api/v1/subscriptions/",
            {"price": price.pk},
            format="json",
            HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
        )
        return response.status_code, response.json()

    results, errors = run_in_parallel([subscribe for _ in range(10)])

    assert errors == []
    created = [body for status, body in results if status == 201]
    refused = [body["error"]["code"] for status, body in results if status != 201]
    assert created, results
    assert set(refused) <= {"subscription_pending"}
    assert len({body["subscription"]["id"] for body in created}) == 1
    assert len({body["client_secret"] for body in created}) == 1
    assert Subscription.objects.filter(user=user).count() == 1
    customer = Customer.objects.get(user=user)
    # Stripe's side: one subscription, one invoice, one PaymentIntent.
    (stripe_sub,) = stripe_list(
        "/v1/subscriptions", customer=customer.stripe_id, status="all"
    )
    assert stripe_sub["id"] == Subscription.objects.get(user=user).stripe_id
    invoices = gw.invoice_list(customer_id=customer.stripe_id)
    assert len(invoices) == 1
    intents = [
        pi
        for pi in stripe_list("/v1/payment_intents")
        if pi["customer"] == customer.stripe_id
    ]
    assert [pi["id"] for pi in intents] == [invoices[0].payment_intent_id]
    assert intents[0]["amount"] == 1500
    assert intent_id(created[0]["client_secret"]) == intents[0]["id"]
