"""Cancel and resume: API, account page, and their errors (localstripe)."""

import uuid

import pytest

from apps.subscriptions import services
from apps.subscriptions.models import SubscriptionEvent
from tests.accounts.factories import UserFactory
from tests.subscriptions.conftest import confirm
from tests.subscriptions.factories import InvoiceFactory, SubscriptionFactory

pytestmark = [pytest.mark.localstripe, pytest.mark.django_db]


def idem() -> dict:
    return {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())}


@pytest.fixture
def active(pushed_price):
    user = UserFactory()
    start = services.subscription_create(user=user, price_id=pushed_price().pk)
    confirm(start.client_secret)
    return services.subscription_sync(stripe_id=start.subscription.stripe_id)


@pytest.fixture
def owner_api(api_client, active):
    api_client.force_authenticate(active.user)
    return api_client


def test_api_cancel_at_period_end_then_resume(owner_api, active):
    url = f"/api/v1/subscriptions/{active.pk}/"

    cancelled = owner_api.post(url + "cancel/", {}, format="json", **idem())
    twice = owner_api.post(url + "cancel/", {}, format="json", **idem())
    resumed = owner_api.post(url + "resume/", format="json", **idem())
    again = owner_api.post(url + "resume/", format="json", **idem())

    assert cancelled.status_code == 200, cancelled.content
    assert (cancelled.json()["status"], cancelled.json()["cancel_at_period_end"]) == (
        "active",
        True,
    )
    assert (twice.status_code, twice.json()["error"]["code"]) == (
        409,
        "already_cancelling",
    )
    assert resumed.json()["cancel_at_period_end"] is False
    assert (again.status_code, again.json()["error"]["code"]) == (
        409,
        "not_cancelling",
    )
    reasons = list(
        SubscriptionEvent.objects.filter(subscription=active).values_list(
            "reason", flat=True
        )
    )
    assert reasons[-2:] == ["cancel_at_period_end", "resume"]


def test_api_cancel_now_then_resume_refused(owner_api, active):
    url = f"/api/v1/subscriptions/{active.pk}/"

    ended = owner_api.post(url + "cancel/", {"at_period_end": False}, format="json")
    resume = owner_api.post(url + "resume/", format="json")
    cancel = owner_api.post(url + "cancel/", {}, format="json")

    assert ended.json()["status"] == "canceled"
    assert resume.json()["error"]["code"] == "resume_period_ended"
    assert cancel.json()["error"]["code"] == "subscription_not_cancellable"


def test_api_cancel_another_users_subscription_is_404(api_client, active):
    api_client.force_authenticate(UserFactory())

    r = api_client.post(f"/api/v1/subscriptions/{active.pk}/cancel/", format="json")

    assert r.status_code == 404
    active.refresh_from_db()
    assert active.cancel_at_period_end is False


def test_account_page_cancel_and_resume_in_two_clicks(client, active):
    client.force_login(active.user)
    # Click 1: the account menu; click 2: the action button.
    assert 'href="/account/subscription/"' in client.get("/account/").content.decode()

    page = client.get("/account/subscription/").content.decode()
    assert "Next renewal" in page
    assert f'action="/subscriptions/{active.pk}/cancel/"' in page
    client.post(f"/subscriptions/{active.pk}/cancel/", {"when": "period_end"})
    page = client.get("/account/subscription/").content.decode()
    assert "Ends on" in page
    assert "Resume subscription" in page
    client.post(f"/subscriptions/{active.pk}/resume/")
    active.refresh_from_db()
    assert active.cancel_at_period_end is False


@pytest.mark.parametrize("invoices", [1, 5])
def test_account_page_query_count_constant_in_invoices(
    client, django_assert_num_queries, invoices
):
    sub = SubscriptionFactory()
    for _ in range(invoices):
        InvoiceFactory(subscription=sub)
    client.force_login(sub.user)
    client.get("/account/subscription/")  # session and user warm

    # session, user, subscription, its scheduled change, invoices, plans
    # offered to the user, the licence keys section (issue 14)
    with django_assert_num_queries(7):
        response = client.get("/account/subscription/")

    assert response.content.decode().count("INV-") == invoices


def test_account_page_anonymous_goes_to_login(client):
    assert client.get("/account/subscription/").status_code == 302
