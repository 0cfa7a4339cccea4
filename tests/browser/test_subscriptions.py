"""Acceptance (issue 13): a shopper subscribes, upgrades and cancels in Chromium.

One test on purpose: browser tests are slow. It drives localstripe's Stripe.js
card element for the first payment, the change-plan page's preview (no
JavaScript), and cancel and resume on the account page.
"""

import re

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from apps.billing.gateway import subscriptions as gw
from apps.subscriptions import services
from apps.subscriptions.models import Subscription
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


def test_subscribe_with_4242_upgrade_with_preview_cancel_and_resume(
    page, live_server, localstripe, transactional_db
):
    starter, pro = _price("Starter", 1000), _price("Pro", 3000)
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
    page.goto(f"/subscribe/{starter.pk}/")
    page.click("button:has-text('Continue to payment')")
    page.wait_for_selector("input[placeholder=number]")
    page.fill("input[placeholder=number]", "4242424242424242")
    page.fill("input[placeholder=exp_month]", "12")
    page.fill("input[placeholder=exp_year]", "34")
    page.fill("input[placeholder=cvc]", "123")
    page.fill("input[placeholder=postal_code]", "94043")
    page.click("#pay-button")
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
