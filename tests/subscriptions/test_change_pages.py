"""The change-plan page (no JavaScript) and the scheduled change on the account."""

import pytest

from apps.billing.gateway import subscriptions as gw
from apps.core.models import Notification
from apps.subscriptions import services
from apps.subscriptions.models import ScheduledChange
from tests.accounts.factories import UserFactory
from tests.subscriptions.conftest import confirm

pytestmark = [pytest.mark.localstripe, pytest.mark.django_db]


@pytest.fixture
def plans(pushed_price):
    return {
        "starter": pushed_price(amount=1000, name="Starter"),
        "pro": pushed_price(amount=3000, name="Pro"),
        "cheap": pushed_price(amount=500, name="Mini"),
    }


@pytest.fixture
def owner(client, plans):
    user = UserFactory()
    start = services.subscription_create(user=user, price_id=plans["starter"].pk)
    confirm(start.client_secret)
    client.sub = services.subscription_sync(stripe_id=start.subscription.stripe_id)
    client.force_login(user)
    return client


def test_change_page_upgrade_charges_the_amount_shown(owner, plans):
    url = f"/subscriptions/{owner.sub.pk}/change/"
    assert "Change plan" in owner.get("/account/subscription/").content.decode()

    choices = owner.get(url).content.decode()
    preview = owner.get(url, {"price": plans["pro"].pk}).content.decode()
    shown = preview.split('data-testid="amount-due">')[1].split("<")[0]
    done = owner.post(url, {"price": plans["pro"].pk}, follow=True)

    assert "Pro" in choices
    assert "Mini" in choices
    assert f'value="{plans["starter"].pk}"' not in choices
    assert done.redirect_chain[-1][0] == "/account/subscription/"
    assert "You are now on Pro" in done.content.decode()
    snap = gw.subscription_retrieve(subscription_id=owner.sub.stripe_id)
    charged = gw.invoice_retrieve(invoice_id=snap.latest_invoice_id)
    assert charged.status == "paid"
    assert f"${charged.amount_paid_minor / 100:.2f}" == shown


def test_change_page_downgrade_is_scheduled_shown_and_mailed_once(
    owner, plans, api_client
):
    url = f"/subscriptions/{owner.sub.pk}/change/"

    preview = owner.get(url, {"price": plans["cheap"].pk}).content.decode()
    owner.post(url, {"price": plans["cheap"].pk})
    account = owner.get("/account/subscription/").content.decode()
    api_client.force_authenticate(owner.sub.user)
    api = api_client.get(f"/api/v1/subscriptions/{owner.sub.pk}/").json()

    assert "Nothing is charged now" in preview
    change = ScheduledChange.objects.get(subscription=owner.sub)
    when = f"{change.due_at:%-d %B %Y}"
    assert f"Changes to Mini ($5.00 / month) on {when}" in account
    assert api["scheduled_change"]["plan_name"] == "Mini"
    assert api["scheduled_change"]["price"] == plans["cheap"].pk
    assert api["price"] == plans["starter"].pk
    mails = Notification.objects.filter(kind="subscriptions.plan_change_scheduled")
    assert mails.count() == 1
    assert "Mini" in mails.get().subject


def test_change_page_errors_and_other_users(owner, plans, client):
    url = f"/subscriptions/{owner.sub.pk}/change/"

    same = owner.post(url, {"price": owner.sub.price_id}, follow=True)
    client.force_login(UserFactory())
    other = client.get(url)

    assert "already on this price" in same.content.decode()
    assert other.status_code == 404


def test_cancellation_scheduled_email_once_per_cancellation(owner):
    def mails():
        return Notification.objects.filter(
            kind="subscriptions.cancellation_scheduled"
        ).count()

    sub = owner.sub
    services.subscription_cancel(user=sub.user, subscription_id=sub.pk)
    services.subscription_sync(stripe_id=sub.stripe_id)  # a replayed webhook
    assert mails() == 1
    services.subscription_resume(user=sub.user, subscription_id=sub.pk)
    services.subscription_cancel(user=sub.user, subscription_id=sub.pk)

    assert mails() == 2
    body = Notification.objects.filter(
        kind="subscriptions.cancellation_scheduled"
    ).first()
    assert "will end on" in body.subject
