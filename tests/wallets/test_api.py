"""GET /api/v1/wallet/ and the store-credit page."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.wallets import services
from apps.wallets.models import LedgerEntry
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


def _give(user, amount, key, currency="USD"):
    services.wallet_credit(
        user=user,
        currency=currency,
        amount_minor=amount,
        kind=LedgerEntry.Kind.GOODWILL,
        idempotency_key=key,
        memo="Sorry for the delay",
    )


def test_wallet_api_anonymous_is_401(api_client):
    response = api_client.get("/api/v1/wallet/")
    assert response.status_code == 401
    assert "error" in response.json()


def test_wallet_api_shows_balance_holds_and_history_of_own_wallets_only(api_client):
    user, other = UserFactory(), UserFactory()
    _give(user, 5_000, "a")
    _give(other, 9_999, "b")
    services.wallet_hold(user=user, currency="USD", amount_minor=1_200, reference="o1")
    api_client.force_authenticate(user)

    body = api_client.get("/api/v1/wallet/").json()

    [wallet] = body["wallets"]
    assert wallet["balance"] == {"amount": 3_800, "currency": "USD"}
    assert wallet["held"] == {"amount": 1_200, "currency": "USD"}
    assert [e["kind"] for e in wallet["entries"]] == ["order_hold", "goodwill"]
    assert wallet["entries"][1]["memo"] == "Sorry for the delay"


def test_wallet_api_query_count_is_constant_in_wallets_and_entries(api_client):
    small, large = UserFactory(), UserFactory()
    _give(small, 100, "s1")
    for n in range(12):
        _give(large, 100, f"l{n}")
    _give(large, 100, "eur", currency="EUR")

    def count(user):
        api_client.force_authenticate(user)
        with CaptureQueriesContext(connection) as ctx:
            assert api_client.get("/api/v1/wallet/").status_code == 200
        return len(ctx.captured_queries)

    assert count(small) == count(large)


def test_wallet_page_shows_balance_and_history(client):
    user = UserFactory()
    _give(user, 2_500, "a")
    client.force_login(user)
    response = client.get(reverse("wallets:wallet-detail"))
    content = response.content.decode()
    assert response.status_code == 200
    assert "$25.00" in content
    assert "Sorry for the delay" in content


def test_wallet_page_requires_sign_in(client):
    response = client.get(reverse("wallets:wallet-detail"))
    assert response.status_code == 302
