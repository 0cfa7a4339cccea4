"""Acceptance (issue 13): a shopper subscribes, upgrades and cancels in Chromium.

Browser tests are slow, so the happy path is one test: localstripe's Stripe.js
card element for the first payment, the change-plan page's preview (no
JavaScript), and cancel and resume on the account page. The 3-D Secure
challenge and the declined card each get their own.
"""

import re

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from apps.billing.gateway import subscriptions as gw
from apps.subscriptions import services
from apps.subscriptions.models import GRANTING_STATUSES, LIVE_STATUSES, Subscription
from tests.accounts.factories import UserFactory
from tests.subscriptions.factories import PlanFactory, PlanPriceFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.localstripe,
    pytest.mark.django_db(transaction=True),
]


def _price(name: str, amount: int):
    price = PlanPriceFactory(plan=PlanFactory(name=name), amount_minor=amount)
    services.plan_push(plan_id=price.plan_id)
    price.refresh_from_db()
    return price


def _sign_in(page, live_server):
    user = UserFactory(verified_email=True)
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    return user


def _to_payment(page, price):
    page.goto(f"/subscribe/{price.pk}/")
    page.click("button:has-text('Continue to payment')")
    page.wait_for_selector("input[placeholder=number]")


def _pay(page, card: str):
    page.fill("input[placeholder=number]", card)
    page.fill("input[placeholder=exp_month]", "12")
    page.fill("input[placeholder=exp_year]", "34")
    page.fill("input[placeholder=cvc]", "123")
    page.fill("input[placeholder=postal_code]", "94043")
    page.click("#pay-button")


def _stripe_invoice(sub: Subscription):
    snap = gw.subscription_retrieve(subscription_id=sub.stripe_id)
    return snap, gw.invoice_retrieve(invoice_id=snap.latest_invoice_id)


def test_subscribe_with_4242_upgrade_with_preview_cancel_and_resume(
    page, live_server, localstripe, transactional_db
):
    starter, pro = _price("Starter", 1000), _price("Pro", 3000)
    user = _sign_in(page, live_server)
    _to_payment(page, starter)
    _pay(page, "4242424242424242")
    expect(page.locator("[data-testid=subscription-status]")).to_contain_text("active")

    page.goto("/account/subscription/")
    page.click("text=Change plan")
    page.check(f"input[name=price][value='{pro.pk}']")
    page.click("text=See what it costs")
    shown = page.locator("[data-testid=amount-due]").inner_text()
    page.click("button:has-text('and change')")
    expect(page.locator("body")).to_contain_text("You are now on Pro")
    sub = Subscription.objects.get(user=user)
    snap = gw.subscription_retrieve(subscription_id=sub.stripe_id)
    charged = gw.invoice_retrieve(invoice_id=snap.latest_invoice_id)
    assert f"${charged.amount_paid_minor / 100:.2f}" == shown

    page.click("button:has-text('Cancel at period end')")
    expect(page.locator("[data-testid=status]")).to_contain_text("Ends on")
    page.click("button:has-text('Resume subscription')")
    expect(page.locator("body")).to_contain_text("Your subscription continues.")
    assert re.search(r"/account/subscription/$", page.url)
    sub.refresh_from_db()
    assert (sub.status, sub.cancel_at_period_end, sub.price_id) == (
        "active",
        False,
        pro.pk,
    )


def test_subscribe_with_3ds_card_after_the_challenge_is_active_and_charged(
    page, live_server, localstripe, transactional_db
):
    starter = _price("Starter", 1000)
    user = _sign_in(page, live_server)
    _to_payment(page, starter)
    _pay(page, "4000002500003155")
    page.click("text=Complete authentication")

    expect(page.locator("[data-testid=subscription-status]")).to_contain_text(
        "Your subscription is active."
    )
    sub = Subscription.objects.get(user=user)
    assert (sub.status, sub.price_id) == ("active", starter.pk)
    snap, invoice = _stripe_invoice(sub)
    assert snap.status == "active"
    assert (invoice.status, invoice.amount_paid_minor) == ("paid", 1000)


def test_declined_card_shows_the_error_and_leaves_no_live_subscription(
    page, live_server, localstripe, transactional_db
):
    starter, pro = _price("Starter", 1000), _price("Pro", 3000)
    user = _sign_in(page, live_server)
    _to_payment(page, starter)
    _pay(page, "4000000000000002")

    expect(page.locator("#card-errors")).to_have_text("Your card was declined.")
    # Nothing runs or grants access: ours and Stripe's stay unpaid, as on
    # Stripe (incomplete until it expires, the card may be retried meanwhile).
    (sub,) = Subscription.objects.filter(user=user)
    assert sub.status == "incomplete"
    assert not Subscription.objects.filter(
        user=user, status__in=GRANTING_STATUSES
    ).exists()
    snap, invoice = _stripe_invoice(sub)
    assert snap.status == "incomplete"
    assert (invoice.status, invoice.amount_paid_minor) == ("open", 0)
    page.goto("/account/subscription/")
    expect(page.locator("body")).not_to_contain_text("Cancel at period end")

    # The shopper is not stuck: another plan replaces the unpaid one.
    _to_payment(page, pro)
    _pay(page, "4242424242424242")
    expect(page.locator("[data-testid=subscription-status]")).to_contain_text(
        "Your subscription is active."
    )
    statuses = dict(Subscription.objects.filter(user=user).values_list("pk", "status"))
    assert statuses[sub.pk] not in LIVE_STATUSES  # ended at Stripe too
    assert list(statuses.values()).count("active") == 1
