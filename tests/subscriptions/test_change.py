"""Change plan: preview equals the charge, downgrades wait for the period end."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.billing.gateway import subscriptions as gw
from apps.subscriptions import services
from apps.subscriptions.models import ScheduledChange
from apps.subscriptions.tasks import apply_scheduled_changes
from tests.accounts.factories import UserFactory
from tests.subscriptions.conftest import confirm

pytestmark = [pytest.mark.localstripe, pytest.mark.django_db]


def idem() -> dict:
    return {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())}


@pytest.fixture
def plans(pushed_price):
    return {
        "starter": pushed_price(amount=1000),
        "pro": pushed_price(amount=3000),
        "cheap": pushed_price(amount=500),
    }


@pytest.fixture
def owner(api_client, plans):
    user = UserFactory()
    start = services.subscription_create(user=user, price_id=plans["starter"].pk)
    confirm(start.client_secret)
    sub = services.subscription_sync(stripe_id=start.subscription.stripe_id)
    api_client.force_authenticate(user)
    api_client.sub = sub
    return api_client


def test_upgrade_preview_equals_the_invoice_charged(owner, plans):
    base = f"/api/v1/subscriptions/{owner.sub.pk}/"

    preview = owner.get(base + "change-preview/", {"price": plans["pro"].pk})
    changed = owner.post(
        base + "change/",
        {"price": plans["pro"].pk, "proration_date": preview.json()["proration_date"]},
        format="json",
        **idem(),
    )

    assert preview.status_code == 200, preview.content
    assert preview.json()["kind"] == "upgrade"
    due = preview.json()["amount_due"]
    assert changed.status_code == 200, changed.content
    assert changed.json()["subscription"]["price"] == plans["pro"].pk
    assert changed.json()["scheduled_for"] is None
    snap = gw.subscription_retrieve(subscription_id=owner.sub.stripe_id)
    charged = gw.invoice_retrieve(invoice_id=snap.latest_invoice_id)
    assert (charged.status, charged.amount_paid_minor, charged.currency) == (
        "paid",
        due["amount"],
        due["currency"],
    )


def test_downgrade_is_scheduled_then_applied_by_beat(owner, plans):
    base = f"/api/v1/subscriptions/{owner.sub.pk}/"

    preview = owner.get(base + "change-preview/", {"price": plans["cheap"].pk})
    changed = owner.post(
        base + "change/", {"price": plans["cheap"].pk}, format="json", **idem()
    )

    assert preview.json()["kind"] == "downgrade"
    assert preview.json()["amount_due"]["amount"] == 0
    assert changed.json()["scheduled_for"] is not None
    assert changed.json()["subscription"]["price"] == plans["starter"].pk
    change = ScheduledChange.objects.get(subscription=owner.sub)
    assert apply_scheduled_changes.delay().get() == 0  # not due yet
    ScheduledChange.objects.filter(pk=change.pk).update(
        due_at=timezone.now() - timedelta(minutes=1)
    )
    assert apply_scheduled_changes.delay().get() == 1
    assert apply_scheduled_changes.delay().get() == 0  # applied once
    owner.sub.refresh_from_db()
    assert owner.sub.price_id == plans["cheap"].pk
    change.refresh_from_db()
    assert change.status == "applied"


def test_change_to_same_price_answers_400_same_price(owner, plans):
    r = owner.post(
        f"/api/v1/subscriptions/{owner.sub.pk}/change/",
        {"price": plans["starter"].pk},
        format="json",
        **idem(),
    )

    assert (r.status_code, r.json()["error"]["code"]) == (400, "same_price")


def test_monthly_to_yearly_preview_equals_the_invoice_charged(
    owner, plans, pushed_price
):
    yearly = pushed_price(amount=10000, interval="year", plan=plans["starter"].plan)
    base = f"/api/v1/subscriptions/{owner.sub.pk}/"

    preview = owner.get(base + "change-preview/", {"price": yearly.pk})
    changed = owner.post(
        base + "change/",
        {"price": yearly.pk, "proration_date": preview.json()["proration_date"]},
        format="json",
        **idem(),
    )

    assert preview.status_code == 200, preview.content
    assert preview.json()["kind"] == "upgrade"
    due = preview.json()["amount_due"]
    assert 0 < due["amount"] <= 10000
    assert changed.status_code == 200, changed.content
    assert changed.json()["subscription"]["interval"] == "year"
    snap = gw.subscription_retrieve(subscription_id=owner.sub.stripe_id)
    charged = gw.invoice_retrieve(invoice_id=snap.latest_invoice_id)
    assert (charged.status, charged.amount_paid_minor, charged.currency) == (
        "paid",
        due["amount"],
        due["currency"],
    )


def test_preview_and_change_prorate_from_the_same_second(owner, plans, monkeypatch):
    # localstripe prorates by whole invoices, not by time, so it cannot show a
    # drift between preview and charge; what Stripe is sent shows there is
    # none: both requests carry the preview's proration time.
    sent = []
    for name in ("invoice_preview_price_change", "subscription_change_price"):
        real = getattr(gw, name)

        def record(*, _real=real, _name=name, **kwargs):
            sent.append((_name, kwargs["proration_date"]))
            return _real(**kwargs)

        monkeypatch.setattr(gw, name, record)
    base = f"/api/v1/subscriptions/{owner.sub.pk}/"

    preview = owner.get(base + "change-preview/", {"price": plans["pro"].pk}).json()
    owner.post(
        base + "change/",
        {"price": plans["pro"].pk, "proration_date": preview["proration_date"]},
        format="json",
        **idem(),
    )

    at = preview["proration_date"]
    assert abs(at - timezone.now().timestamp()) < 60
    assert sent == [
        ("invoice_preview_price_change", at),
        ("subscription_change_price", at),
    ]


@pytest.mark.parametrize("minutes", [-31, 5, 10**12])
def test_change_with_a_stale_or_future_proration_date_is_400_and_changes_nothing(
    owner, plans, minutes
):
    # 10**12 minutes: past any datetime, refused the same way, never a 500.
    at = int(timezone.now().timestamp()) + minutes * 60

    r = owner.post(
        f"/api/v1/subscriptions/{owner.sub.pk}/change/",
        {"price": plans["pro"].pk, "proration_date": at},
        format="json",
        **idem(),
    )

    assert (r.status_code, r.json()["error"]["code"]) == (400, "preview_expired")
    snap = gw.subscription_retrieve(subscription_id=owner.sub.stripe_id)
    assert snap.price_id == plans["starter"].stripe_price_id
