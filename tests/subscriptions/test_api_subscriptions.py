"""Subscriptions API as a mobile client uses it (token or session auth)."""

import uuid

import pytest
import requests

from apps.subscriptions.models import Subscription
from tests.accounts.factories import UserFactory
from tests.subscriptions.conftest import CARD_OK, intent_id
from tests.subscriptions.factories import SubscriptionFactory

pytestmark = [pytest.mark.localstripe, pytest.mark.django_db]


def idem() -> dict:
    return {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())}


@pytest.fixture
def user_client(api_client):
    user = UserFactory()
    api_client.force_authenticate(user)
    api_client.user = user
    return api_client


def sdk_confirm(base: str, body: dict, card: str = CARD_OK):
    """Confirm straight at localstripe with the publishable key, as the SDK does."""
    return requests.post(
        f"{base}/v1/payment_intents/{intent_id(body['client_secret'])}/confirm",
        json={
            "key": body["publishable_key"],
            "client_secret": body["client_secret"],
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


def test_subscribe_then_confirm_at_stripe(user_client, pushed_price, localstripe):
    price = pushed_price(amount=1900)

    r = user_client.post(
        "/api/v1/subscriptions/", {"price": price.pk}, format="json", **idem()
    )

    assert r.status_code == 201, r.content
    body = r.json()
    assert body["kind"] == "payment_intent"
    assert body["publishable_key"].startswith("pk_")
    sub = body["subscription"]
    assert (sub["status"], sub["price"]) == ("incomplete", price.pk)
    assert sub["amount"] == {"amount": 1900, "currency": "USD"}
    assert sdk_confirm(localstripe, body).json()["status"] == "succeeded"


def test_subscribe_same_idempotency_key_replays(user_client, pushed_price):
    price = pushed_price()
    key = idem()

    first = user_client.post(
        "/api/v1/subscriptions/", {"price": price.pk}, format="json", **key
    )
    second = user_client.post(
        "/api/v1/subscriptions/", {"price": price.pk}, format="json", **key
    )

    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert Subscription.objects.filter(user=user_client.user).count() == 1


def test_subscribe_price_not_at_stripe_answers_400_price_inactive(user_client):
    other = SubscriptionFactory(status="canceled", price__stripe_price_id="")

    r = user_client.post(
        "/api/v1/subscriptions/",
        {"price": other.price.pk},
        format="json",
        **idem(),
    )

    assert r.status_code == 400
    assert r.json()["error"]["code"] == "price_inactive"


def test_subscribe_twice_answers_409(user_client, pushed_price, localstripe):
    body = user_client.post(
        "/api/v1/subscriptions/", {"price": pushed_price().pk}, format="json", **idem()
    ).json()
    sdk_confirm(localstripe, body)

    r = user_client.post(
        "/api/v1/subscriptions/", {"price": pushed_price().pk}, format="json", **idem()
    )

    assert r.status_code == 409
    assert r.json()["error"]["code"] == "already_subscribed"


@pytest.mark.parametrize(
    ("price", "status", "code"),
    [(999999, 404, "price_not_found"), ("x", 400, "validation_error")],
)
def test_subscribe_bad_price_answers_error_envelope(user_client, price, status, code):
    r = user_client.post(
        "/api/v1/subscriptions/", {"price": price}, format="json", **idem()
    )

    assert r.status_code == status
    assert r.json()["error"]["code"] == code


def test_subscribe_anonymous_refused(api_client):
    r = api_client.post("/api/v1/subscriptions/", {"price": 1}, format="json")

    assert r.status_code in (401, 403)


def test_list_and_detail_only_own(user_client, django_assert_num_queries):
    mine = SubscriptionFactory(user=user_client.user)
    theirs = SubscriptionFactory()

    listed = user_client.get("/api/v1/subscriptions/")
    detail = user_client.get(f"/api/v1/subscriptions/{mine.pk}/")
    other = user_client.get(f"/api/v1/subscriptions/{theirs.pk}/")

    assert [s["id"] for s in listed.json()] == [mine.pk]
    assert detail.json()["plan"] == mine.price.plan.slug
    assert other.status_code == 404
    assert other.json()["error"]["code"] == "subscription_not_found"


@pytest.mark.parametrize("count", [1, 5])
def test_list_query_count_constant(user_client, django_assert_num_queries, count):
    for _ in range(count):
        SubscriptionFactory(user=user_client.user, status="canceled")

    # the subscriptions, and their pending scheduled changes (one prefetch)
    with django_assert_num_queries(2):
        r = user_client.get("/api/v1/subscriptions/")

    assert len(r.json()) == count


def test_schema_documents_subscription_operations(api_client):
    schema = api_client.get("/api/schema/?format=json").json()

    post = schema["paths"]["/api/v1/subscriptions/"]["post"]
    assert "201" in post["responses"]
    assert "409" in post["responses"]
    assert "/api/v1/subscriptions/{subscription_id}/" in schema["paths"]
