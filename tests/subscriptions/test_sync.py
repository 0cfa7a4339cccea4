"""Sync by fetch: webhooks, replays and reordering converge (localstripe)."""

import random

import pytest
import requests
from django.core import mail

from apps.billing import gateway
from apps.core.models import OutboxEvent
from apps.subscriptions import services
from apps.subscriptions.models import Invoice, SubscriptionEvent
from tests.accounts.factories import UserFactory
from tests.billing.stripe_events import deliver, event_body, webhook_endpoint
from tests.subscriptions.conftest import confirm

pytestmark = [pytest.mark.localstripe, pytest.mark.django_db]


def stripe_get(path: str) -> dict:
    response = requests.get(
        gateway.api_host() + path, auth=(gateway.secret_key(), ""), timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()


def history(sub) -> list[tuple[str, str, str]]:
    return list(
        SubscriptionEvent.objects.filter(subscription=sub).values_list(
            "from_status", "to_status", "reason"
        )
    )


def test_webhook_storm_converges_with_one_history_row_per_change(
    pushed_price, django_capture_on_commit_callbacks
):
    endpoint = webhook_endpoint()
    user = UserFactory()
    start = services.subscription_create(user=user, price_id=pushed_price().pk)
    sub = start.subscription
    invoice_id = stripe_get(f"/v1/subscriptions/{sub.stripe_id}")["latest_invoice"]
    rng = random.Random(13)

    def storm():
        # What Stripe could send about this subscription, 5 times each,
        # shuffled, each a distinct event (dj-stripe drops exact repeats).
        subscription = stripe_get(f"/v1/subscriptions/{sub.stripe_id}")
        invoice = stripe_get(f"/v1/invoices/{invoice_id}")
        events = [
            ("customer.subscription.created", subscription),
            ("customer.subscription.updated", subscription),
            ("invoice.created", invoice),
            ("invoice.payment_succeeded", invoice),
            ("invoice.paid", invoice),
        ] * 5
        rng.shuffle(events)
        with django_capture_on_commit_callbacks(execute=True):
            for event_type, obj in events:
                assert deliver(endpoint, event_body(event_type, obj)).status_code == 200

    storm()
    confirm(start.client_secret)
    storm()
    services.subscription_cancel(user=user, subscription_id=sub.pk, at_period_end=True)
    storm()

    sub.refresh_from_db()
    assert (sub.status, sub.cancel_at_period_end) == ("active", True)
    assert [(f, t) for f, t, _ in history(sub)] == [
        ("", "incomplete"),
        ("incomplete", "active"),
        ("active", "active"),
    ]
    invoice = Invoice.objects.get(stripe_id=invoice_id)
    assert (invoice.status, invoice.amount_paid_minor, invoice.user_id) == (
        "paid",
        1000,
        user.pk,
    )
    assert invoice.lines.count() == 1
    started = [m for m in mail.outbox if "has started" in m.subject]
    assert len(started) == 1
    topics = list(
        OutboxEvent.objects.filter(aggregate_type="subscription").values_list(
            "topic", flat=True
        )
    )
    assert topics.count("subscription.started") == 1
    assert "subscription.renewed" not in topics  # the first invoice is no renewal


def test_webhook_with_forged_body_changes_nothing(pushed_price):
    endpoint = webhook_endpoint()
    start = services.subscription_create(user=UserFactory(), price_id=pushed_price().pk)
    forged = {**stripe_get(f"/v1/subscriptions/{start.subscription.stripe_id}")}
    forged["status"] = "active"

    deliver(endpoint, event_body("customer.subscription.updated", forged))

    start.subscription.refresh_from_db()
    assert start.subscription.status == "incomplete"  # Stripe's, not the body's


def test_cancel_now_syncs_emails_once_and_cannot_resume(
    pushed_price, django_capture_on_commit_callbacks
):
    user = UserFactory()
    start = services.subscription_create(user=user, price_id=pushed_price().pk)
    confirm(start.client_secret)
    services.subscription_sync(stripe_id=start.subscription.stripe_id)

    with django_capture_on_commit_callbacks(execute=True):
        sub = services.subscription_cancel(
            user=user, subscription_id=start.subscription.pk, at_period_end=False
        )
        services.subscription_sync(stripe_id=sub.stripe_id)  # the webhook, later

    assert sub.status == "canceled"
    assert sub.ended_at is not None
    assert len([m for m in mail.outbox if "is cancelled" in m.subject]) == 1
    assert history(sub)[-1] == ("active", "canceled", "cancel_now")
    assert len(history(sub)) == 3


def stripe_post(path: str, data: dict | None = None) -> dict:
    response = requests.post(
        gateway.api_host() + path,
        data=data or {},
        auth=(gateway.secret_key(), ""),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_paid_renewal_invoice_sends_one_receipt_and_renewed_event(
    pushed_price, django_capture_on_commit_callbacks
):
    user = UserFactory()
    start = services.subscription_create(user=user, price_id=pushed_price().pk)
    confirm(start.client_secret)
    sub = start.subscription
    first = stripe_get(f"/v1/subscriptions/{sub.stripe_id}")["latest_invoice"]
    services.invoice_sync(stripe_id=first)
    # A renewal as localstripe can make one: the next invoice, charged to the
    # card the first payment saved.
    customer = stripe_get(f"/v1/subscriptions/{sub.stripe_id}")["customer"]
    renewal = stripe_post(
        "/v1/invoices", {"customer": customer, "subscription": sub.stripe_id}
    )
    stripe_post(f"/v1/invoices/{renewal['id']}/pay")

    with django_capture_on_commit_callbacks(execute=True):
        services.invoice_sync(stripe_id=renewal["id"])
        services.invoice_sync(stripe_id=renewal["id"])  # a replay

    receipts = [m for m in mail.outbox if m.subject.startswith("Receipt")]
    assert len(receipts) == 1
    assert "$10.00" in receipts[0].body
    renewed = OutboxEvent.objects.filter(topic="subscription.renewed")
    assert [e.payload["invoice"] for e in renewed] == [renewal["id"]]
    assert Invoice.objects.filter(subscription=sub, status="paid").count() == 2
