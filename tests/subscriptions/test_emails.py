"""Every subscription email goes out as text and HTML from the one base.

Each test sends the email through the service that sends it (localstripe
where Stripe takes part) and reads both parts: the licence key, the amount,
the date and the link are in each. The plan's name holds an ampersand, so
the text part must carry it as is and the HTML part escaped.
"""

import re
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from apps.billing import gateway
from apps.billing.gateway import subscriptions as gw_subscriptions
from apps.billing.gateway import testing as gateway_testing
from apps.subscriptions import services
from apps.subscriptions.models import Plan
from apps.subscriptions.services import payment_method
from apps.subscriptions.services.reminders import trial_ending_reminders_send
from apps.subscriptions.usage.record import UsageInput, usage_record_many
from tests.accounts.factories import UserFactory
from tests.email_parts import both_parts
from tests.subscriptions.conftest import confirm, intent_id
from tests.subscriptions.factories import SubscriptionFactory
from tests.subscriptions.usage_helpers import subscriber

pytestmark = [pytest.mark.localstripe, pytest.mark.django_db]

KEY = re.compile(r"([0-9A-F]{4}-){7}[0-9A-F]{4}")
ACCOUNT = "https://shop.example/account/subscription/"
NAME, NAME_HTML = "Studio & Co", "Studio &amp; Co"


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_URL = "https://shop.example"


def _assert_link(text: str, html: str, url: str) -> None:
    assert url in text
    assert f'href="{url}"' in html


def _stripe_post(path: str, data: dict | None = None) -> dict:
    response = requests.post(
        gateway.api_host() + path,
        data=data or {},
        auth=(gateway.secret_key(), ""),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def started(pushed_price, django_capture_on_commit_callbacks):
    """An active subscription to a plan with 2 devices, as the sync leaves it."""
    user = UserFactory(email="owner@example.com")
    price = pushed_price(amount=1250, name=NAME, features={"devices": 2})
    start = services.subscription_create(user=user, price_id=price.pk)
    confirm(start.client_secret)
    with django_capture_on_commit_callbacks(execute=True):
        sub = services.subscription_sync(stripe_id=start.subscription.stripe_id)
    return sub


def test_started_email_says_active_renewal_date_amount_and_links(started):
    text, html = both_parts("owner@example.com", "has started")
    when = f"{started.current_period_end:%-d %B %Y}"
    assert f"Your {NAME} subscription is active." in text
    assert NAME_HTML in html
    for part in (text, html):
        assert "$12.50" in part
        assert when in part
    _assert_link(text, html, ACCOUNT)


def test_licence_issued_email_carries_the_whole_key_in_both_parts(started):
    text, html = both_parts("owner@example.com", "Your licence key")
    key = KEY.search(text).group(0)
    assert key in html
    for part in (text, html):
        assert "2 devices" in part
        assert "only place it is shown in full" in part
    _assert_link(text, html, ACCOUNT)


def test_renewal_receipt_email_says_what_was_charged(
    started, django_capture_on_commit_callbacks
):
    snap = gw_subscriptions.subscription_retrieve(subscription_id=started.stripe_id)
    services.invoice_sync(stripe_id=snap.latest_invoice_id)  # the first, no receipt
    renewal = _stripe_post(
        "/v1/invoices", {"customer": snap.customer, "subscription": started.stripe_id}
    )
    _stripe_post(f"/v1/invoices/{renewal['id']}/pay")

    with django_capture_on_commit_callbacks(execute=True):
        services.invoice_sync(stripe_id=renewal["id"])

    text, html = both_parts("owner@example.com", "Receipt")
    assert f"was charged for {NAME}" in text
    assert NAME_HTML in html
    for part in (text, html):
        assert "$12.50" in part
    _assert_link(text, html, ACCOUNT)


def test_cancellation_scheduled_email_names_the_end_date(
    started, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        sub = services.subscription_cancel(
            user=started.user, subscription_id=started.pk
        )

    text, html = both_parts("owner@example.com", "will end on")
    for part in (text, html):
        assert f"{sub.current_period_end:%-d %B %Y}" in part
        assert "nothing more will be charged" in part
    _assert_link(text, html, ACCOUNT)


def test_cancelled_email_says_nothing_more_is_charged(
    started, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.subscription_cancel(
            user=started.user, subscription_id=started.pk, at_period_end=False
        )

    text, html = both_parts("owner@example.com", "is cancelled")
    assert f"Your {NAME} subscription has ended." in text
    assert NAME_HTML in html
    for part in (text, html):
        assert "Nothing more will be charged" in part
    _assert_link(text, html, ACCOUNT)


def test_plan_changed_email_gives_the_new_plan_and_its_price(
    started, pushed_price, django_capture_on_commit_callbacks
):
    pro = pushed_price(amount=3000, name="Pro")

    with django_capture_on_commit_callbacks(execute=True):
        services.subscription_change(
            user=started.user, subscription_id=started.pk, price_id=pro.pk
        )

    text, html = both_parts("owner@example.com", "Your plan is now Pro")
    for part in (text, html):
        assert "Pro" in part
        assert "$30.00 every month" in part
    _assert_link(text, html, ACCOUNT)


def test_plan_change_scheduled_email_gives_both_plans_date_and_price(
    started, pushed_price, django_capture_on_commit_callbacks
):
    mini = pushed_price(amount=500, name="Mini")

    with django_capture_on_commit_callbacks(execute=True):
        change = services.subscription_change(
            user=started.user, subscription_id=started.pk, price_id=mini.pk
        )

    text, html = both_parts("owner@example.com", "Your plan changes to Mini")
    assert f"from {NAME} to Mini" in text
    assert NAME_HTML in html
    for part in (text, html):
        assert f"{change.due_at:%-d %B %Y}" in part
        assert "$5.00 every month" in part
    _assert_link(text, html, ACCOUNT)


def test_payment_method_updated_email_names_the_new_card(
    started, django_capture_on_commit_callbacks
):
    setup = payment_method.subscription_payment_method_setup(
        user=started.user, subscription_id=started.pk
    )
    method = gateway_testing.card_payment_method_create(number="5555555555554444")
    gateway._client().v1.setup_intents.confirm(
        intent_id(setup.client_secret), params={"payment_method": method.id}
    )

    with django_capture_on_commit_callbacks(execute=True):
        payment_method.subscription_payment_method_confirm(
            user=started.user,
            subscription_id=started.pk,
            setup_intent_id=setup.setup_intent_id,
        )

    text, html = both_parts("owner@example.com", "has been updated")
    for part in (text, html):
        assert "•••• 4444" in part
        assert "If you did not make this change" in part
    _assert_link(text, html, ACCOUNT)


@pytest.mark.django_db
def test_trial_ending_email_gives_the_date_the_amount_and_asks_for_a_card(
    django_capture_on_commit_callbacks,
):
    sub = SubscriptionFactory(
        status="trialing",
        trial_end=timezone.now() + timedelta(days=2),
        user__email="trial@example.com",
        price__amount_minor=1250,
        price__plan__name=NAME,
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert trial_ending_reminders_send() == 1

    text, html = both_parts("trial@example.com", "trial ends on")
    assert f"Your free {NAME} trial" in text
    assert NAME_HTML in html
    for part in (text, html):
        assert f"{sub.trial_end:%-d %B %Y}" in part
        assert "$12.50" in part
        assert "Add a card before then" in part
    _assert_link(text, html, ACCOUNT)


GUEST = "/api/v1/subscribe/guest/"


def _guest_pays(api_client, price, capture, *, meanwhile=None):
    started = api_client.post(
        GUEST, {"email": "guest@example.com", "price": price.pk}, format="json"
    )
    assert started.status_code == 201, started.content
    body = started.json()
    if meanwhile:
        meanwhile()
    confirm(body["client_secret"])
    with capture(execute=True):
        done = api_client.post(f"{GUEST}{body['flow']}/confirm/")
    assert done.status_code == 200


def test_guest_welcome_email_carries_the_key_and_the_sign_in_link(
    api_client, pushed_price, django_capture_on_commit_callbacks
):
    price = pushed_price(amount=900, name=NAME, features={"devices": 2})
    _guest_pays(api_client, price, django_capture_on_commit_callbacks)

    text, html = both_parts("guest@example.com", "licence key")
    key = KEY.search(text).group(0)
    link = re.search(r"https://shop\.example/\S+/sign-in/\S+/", text).group(0)
    assert f"Thank you for buying {NAME}." in text
    assert NAME_HTML in html
    for part in (text, html):
        assert key in part
        assert link in part
        assert "made an account" in part
    _assert_link(text, html, link)
    _assert_link(text, html, "https://shop.example/accounts/login/")


def test_guest_failed_email_says_the_payment_was_refunded(
    api_client, pushed_price, django_capture_on_commit_callbacks
):
    price = pushed_price(amount=1500, name=NAME)

    def archive():
        Plan.objects.filter(pk=price.plan_id).update(status="archived")

    _guest_pays(
        api_client, price, django_capture_on_commit_callbacks, meanwhile=archive
    )

    text, html = both_parts("guest@example.com", "could not be completed")
    assert f"purchase of {NAME}." in text
    assert NAME_HTML in html
    for part in (text, html):
        assert "refunded in full" in part
        assert "No licence key from this purchase works" in part


def test_usage_alert_email_says_how_much_is_used_and_when_it_resets(
    basic_plan, time_machine, django_capture_on_commit_callbacks
):
    time_machine.move_to("2026-03-10T15:00:00Z", tick=False)
    user = subscriber(basic_plan, user=UserFactory(email="usage@example.com"))

    with django_capture_on_commit_callbacks(execute=True):
        usage_record_many(
            events=[
                UsageInput(
                    user_id=user.pk, metric="api_calls", quantity=8, idempotency_key="a"
                )
            ],
            source="api",
        )

    text, html = both_parts("usage@example.com", "80 %")
    assert "You have used 8 of the 10 api_calls" in text
    assert "<strong>8</strong> of the 10 api_calls" in html
    for part in (text, html):
        assert "11 March 2026" in part  # the day's window resets at midnight UTC
    _assert_link(text, html, ACCOUNT)
