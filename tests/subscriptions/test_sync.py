"""Sync by fetch: webhooks, replays and reordering converge (localstripe)."""

import random

import pytest
import requests
from django.core import mail

from apps.billing import gateway
from apps.billing.gateway import subscriptions as gw
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


def _life_step_events(sub, types: tuple[str, ...], invoice_types: tuple[str, ...]):
    """What Stripe sends now about the subscription and its latest invoice."""
    subscription = stripe_get(f"/v1/subscriptions/{sub.stripe_id}")
    invoice = stripe_get(f"/v1/invoices/{subscription['latest_invoice']}")
    return [(t, subscription) for t in types] + [(t, invoice) for t in invoice_types]


def _live_a_life(user, starter, pro, on_step):
    """Drive one subscription's life at Stripe only; ``on_step`` gets its events.

    Our row learns everything after the subscribe call from the events alone:
    the payment, the upgrade, a renewal and the cancellation all happen at
    Stripe (as a dashboard, a retry or Stripe's clock would), not through our
    services.
    """
    start = services.subscription_create(user=user, price_id=starter.pk)
    sub = start.subscription
    created = ("customer.subscription.created",)
    invoiced = ("invoice.created", "invoice.finalized")
    paid = ("invoice.payment_succeeded", "invoice.paid")
    updated = ("customer.subscription.updated",)
    on_step(_life_step_events(sub, created, invoiced))
    confirm(start.client_secret)
    on_step(_life_step_events(sub, updated, paid))
    snap = gw.subscription_retrieve(subscription_id=sub.stripe_id)
    gw.subscription_change_price(
        subscription_id=sub.stripe_id,
        item_id=snap.item_id,
        price_id=pro.stripe_price_id,
        idempotency_key=f"storm-upgrade-{sub.pk}",
    )
    on_step(_life_step_events(sub, updated, invoiced + paid))
    gw.renewal_invoice_create_and_pay(
        customer_id=snap.customer,
        subscription_id=sub.stripe_id,
        idempotency_key=f"storm-renewal-{sub.pk}",
    )
    on_step(_life_step_events(sub, (), invoiced + paid))
    gw.subscription_cancel(
        subscription_id=sub.stripe_id,
        at_period_end=True,
        idempotency_key=f"storm-cancel-{sub.pk}",
    )
    on_step(_life_step_events(sub, updated, ()))
    return sub


def _outcome(sub):
    sub.refresh_from_db()
    return {
        "subscription": (sub.status, sub.price_id, sub.cancel_at_period_end),
        # Reasons name the event that carried the change; the change is what
        # must not differ.
        "history": [
            (e.from_status, e.to_status, e.details)
            for e in SubscriptionEvent.objects.filter(subscription=sub).order_by("pk")
        ],
        "invoices": sorted(
            Invoice.objects.filter(subscription=sub).values_list(
                "status", "amount_paid_minor"
            )
        ),
        "outbox": sorted(
            OutboxEvent.objects.filter(
                aggregate_type="subscription", aggregate_id=str(sub.pk)
            ).values_list("topic", flat=True)
        ),
        "emails": sorted(m.subject for m in mail.outbox if sub.user.email in m.to),
    }


def test_webhook_storm_five_times_shuffled_matches_one_ordered_delivery(
    pushed_price, django_capture_on_commit_callbacks
):
    endpoint = webhook_endpoint()
    starter = pushed_price(amount=1000)
    pro = pushed_price(amount=3000)

    def send(events):
        with django_capture_on_commit_callbacks(execute=True):
            for event_type, obj in events:
                assert deliver(endpoint, event_body(event_type, obj)).status_code == 200

    # One ordered delivery: each event once, as it happens.
    ordered = _live_a_life(UserFactory(), starter, pro, send)

    # The storm: every event 5 times, shuffled; a fifth of them arrive late,
    # mixed into the next step's batch (stale by then).
    rng = random.Random(13)
    late: list = []

    def storm(events):
        batch = events * 4 + late
        late[:] = list(events)
        rng.shuffle(batch)
        send(batch)

    stormed = _live_a_life(UserFactory(), starter, pro, storm)
    rng.shuffle(late)
    send(late)

    expected = _outcome(ordered)
    assert _outcome(stormed) == expected
    assert expected["subscription"] == ("active", pro.pk, True)
    # One history row per real change: subscribed, paid, upgraded, cancel
    # scheduled (the renewal changes no status, price or cancel flag).
    assert [(f, t) for f, t, _ in expected["history"]] == [
        ("", "incomplete"),
        ("incomplete", "active"),
        ("active", "active"),
        ("active", "active"),
    ]
    assert expected["history"][2][2] == {"from_price": starter.pk, "to_price": pro.pk}
    assert expected["history"][3][2] == {"cancel_at_period_end": True}
    assert expected["invoices"] == [("paid", 1000), ("paid", 2000), ("paid", 3000)]
    assert expected["outbox"].count("subscription.started") == 1
    # The upgrade and the scheduled cancellation; the upgrade's proration
    # invoice is no renewal, the simulated one is.
    assert expected["outbox"].count("subscription.changed") == 2
    assert expected["outbox"].count("subscription.renewed") == 1
    assert len([s for s in expected["emails"] if s.startswith("Receipt")]) == 1


def test_invoice_payment_intent_events_sync_the_invoice_and_subscription(
    pushed_price, django_capture_on_commit_callbacks
):
    endpoint = webhook_endpoint()
    user = UserFactory()
    start = services.subscription_create(user=user, price_id=pushed_price().pk)
    sub = start.subscription
    invoice_id = stripe_get(f"/v1/subscriptions/{sub.stripe_id}")["latest_invoice"]
    services.invoice_sync(stripe_id=invoice_id)  # invoice.created, earlier
    intent_id = Invoice.objects.get(stripe_id=invoice_id).payment_intent_id
    assert intent_id
    confirm(start.client_secret)

    # Only the intent's event arrives (the others are late or lost).
    intent = stripe_get(f"/v1/payment_intents/{intent_id}")
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):  # and again: nothing more changes
            body = event_body("payment_intent.succeeded", intent)
            assert deliver(endpoint, body).status_code == 200

    sub.refresh_from_db()
    assert sub.status == "active"
    assert Invoice.objects.get(stripe_id=invoice_id).status == "paid"
    assert [(f, t) for f, t, _ in history(sub)] == [
        ("", "incomplete"),
        ("incomplete", "active"),
    ]
    assert len([m for m in mail.outbox if "has started" in m.subject]) == 1
