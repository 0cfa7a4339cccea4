"""Updating a subscription's card: SetupIntent, confirm, default (localstripe)."""

import uuid

import pytest

from apps.billing import gateway
from apps.billing.gateway import testing as gateway_testing
from apps.core.models import Notification
from apps.subscriptions import services
from apps.subscriptions.models import Customer, SubscriptionEvent
from apps.subscriptions.signals import payment_method_updated
from tests.accounts.factories import UserFactory
from tests.subscriptions.conftest import CARD_DECLINED, confirm, intent_id

pytestmark = [pytest.mark.localstripe, pytest.mark.django_db]

CARD_MASTERCARD = "5555555555554444"  # localstripe calls every card a Visa


def idem() -> dict:
    return {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())}


def confirm_setup(client_secret: str, card: str):
    """Confirm a SetupIntent with a test card, as Stripe.js confirmCardSetup does."""
    method = gateway_testing.card_payment_method_create(number=card)
    return gateway._client().v1.setup_intents.confirm(
        intent_id(client_secret), params={"payment_method": method.id}
    )


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


@pytest.fixture
def heard():
    calls: list[dict] = []

    def receiver(**kwargs):
        calls.append(kwargs)

    payment_method_updated.connect(receiver, dispatch_uid="test-heard")
    yield calls
    payment_method_updated.disconnect(dispatch_uid="test-heard")


def test_api_card_update_becomes_the_default_once(
    owner_api, active, heard, django_capture_on_commit_callbacks
):
    url = f"/api/v1/subscriptions/{active.pk}/payment-method/"
    started = owner_api.post(url, format="json", **idem())
    assert started.status_code == 201, started.content
    body = started.json()
    assert body["kind"] == "setup_intent"
    assert body["client_secret"].startswith(body["setup_intent"] + "_secret_")
    confirm_setup(body["client_secret"], CARD_MASTERCARD)

    with django_capture_on_commit_callbacks(execute=True):
        done = owner_api.post(
            url + "confirm/", {"setup_intent": body["setup_intent"]}, format="json"
        )
        again = owner_api.post(
            url + "confirm/", {"setup_intent": body["setup_intent"]}, format="json"
        )

    assert done.status_code == 200, done.content
    assert done.json()["payment_method"] == "Visa •••• 4444"
    assert again.status_code == 200
    active.refresh_from_db()
    assert active.payment_method_label == "Visa •••• 4444"
    customer = Customer.objects.get(user=active.user)
    at_stripe = gateway.customer_retrieve(customer_id=customer.stripe_id)
    assert at_stripe.default_payment_method == active.default_payment_method
    assert len(heard) == 1
    assert heard[0]["subscription_id"] == active.pk
    assert heard[0]["user_id"] == active.user_id
    assert (
        Notification.objects.filter(kind="subscriptions.payment_method_updated").count()
        == 1
    )
    assert (
        SubscriptionEvent.objects.filter(
            subscription=active, reason="payment_method_updated"
        ).count()
        == 1
    )


def test_api_confirm_before_the_card_is_confirmed_is_409(owner_api, active):
    url = f"/api/v1/subscriptions/{active.pk}/payment-method/"
    seti = owner_api.post(url, format="json").json()["setup_intent"]

    response = owner_api.post(url + "confirm/", {"setup_intent": seti}, format="json")

    assert (response.status_code, response.json()["error"]["code"]) == (
        409,
        "payment_method_not_confirmed",
    )
    active.refresh_from_db()
    assert active.payment_method_label == ""


def test_declined_card_changes_nothing(owner_api, active):
    url = f"/api/v1/subscriptions/{active.pk}/payment-method/"
    secret = owner_api.post(url, format="json").json()["client_secret"]
    with pytest.raises(Exception, match="declined"):
        confirm_setup(secret, CARD_DECLINED)

    response = owner_api.post(
        url + "confirm/", {"setup_intent": intent_id(secret)}, format="json"
    )

    assert response.json()["error"]["code"] == "payment_method_not_confirmed"
    assert not SubscriptionEvent.objects.filter(reason="payment_method_updated")


def test_other_users_subscription_and_setup_intent_are_404(
    api_client, active, pushed_price
):
    other = UserFactory()
    theirs = services.subscription_create(user=other, price_id=pushed_price().pk)
    confirm(theirs.client_secret)
    services.subscription_sync(stripe_id=theirs.subscription.stripe_id)
    api_client.force_authenticate(other)
    mine = f"/api/v1/subscriptions/{active.pk}/payment-method/"

    denied = api_client.post(mine, format="json")
    api_client.force_authenticate(active.user)
    seti = api_client.post(mine, format="json").json()["setup_intent"]
    api_client.force_authenticate(other)
    stolen = api_client.post(
        f"/api/v1/subscriptions/{theirs.subscription.pk}/payment-method/confirm/",
        {"setup_intent": seti},
        format="json",
    )

    assert (denied.status_code, denied.json()["error"]["code"]) == (
        404,
        "subscription_not_found",
    )
    assert (stolen.status_code, stolen.json()["error"]["code"]) == (
        404,
        "setup_intent_not_found",
    )


def test_ended_subscription_has_no_card_to_update(owner_api, active):
    services.subscription_cancel(
        user=active.user, subscription_id=active.pk, at_period_end=False
    )

    response = owner_api.post(
        f"/api/v1/subscriptions/{active.pk}/payment-method/", format="json"
    )

    assert (response.status_code, response.json()["error"]["code"]) == (
        409,
        "subscription_ended",
    )


def test_account_page_update_card_flow(client, active):
    client.force_login(active.user)
    assert "Update card" in client.get("/account/subscription/").content.decode()

    started = client.post(f"/subscriptions/{active.pk}/card/")
    page = client.get(started["Location"]).content.decode()
    secret = page.split('data-client-secret="')[1].split('"')[0]
    return_url = page.split('data-return-url="')[1].split('"')[0]
    confirm_setup(secret, CARD_MASTERCARD)
    back = client.get(return_url, follow=True)

    assert started.status_code == 302
    assert back.redirect_chain[-1][0] == "/account/subscription/"
    assert "Visa •••• 4444" in back.content.decode()


def test_card_page_get_creates_nothing_and_hides_others_setup_intents(client, active):
    other = UserFactory()
    client.force_login(active.user)
    seti = client.post(f"/subscriptions/{active.pk}/card/")["Location"].split("/")[-2]
    client.force_login(other)

    assert client.get(f"/subscriptions/{active.pk}/card/{seti}/").status_code == 404
    assert client.get(f"/subscriptions/{active.pk}/card/").status_code == 405


def test_trial_card_collected_on_the_pay_page(client, pushed_price):
    user = UserFactory()
    client.force_login(user)
    price = pushed_price(trial_days=14)
    sub_page = client.post(f"/subscribe/{price.pk}/")

    page = client.get(sub_page["Location"]).content.decode()
    secret = page.split('data-client-secret="')[1].split('"')[0]
    return_url = page.split('data-return-url="')[1].split('"')[0]
    assert secret.startswith("seti_")
    assert "Nothing is charged now" in page
    confirm_setup(secret, gateway_testing.CARD_OK)
    back = client.get(return_url, follow=True)

    assert "Visa •••• 4242" in back.content.decode()
    customer = Customer.objects.get(user=user)
    at_stripe = gateway.customer_retrieve(customer_id=customer.stripe_id)
    assert at_stripe.default_payment_method
