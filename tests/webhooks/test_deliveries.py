"""Outbox events become deliveries: matching, once per event, the envelope."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from apps.core.exceptions import InvalidTransition
from apps.core.models import OutboxEvent
from apps.core.outbox import outbox_publish, outbox_relay
from apps.webhooks.exceptions import EndpointInactive
from apps.webhooks.models import Delivery, Endpoint
from apps.webhooks.services import (
    deliveries_resend_failed,
    delivery_resend,
    endpoint_create,
    endpoint_update,
)
from apps.webhooks.services.deliveries import deliveries_create_for_event

pytestmark = pytest.mark.django_db

URL = "https://hooks.example.com/shop"


def _endpoint(types=("order.*",), **kwargs):
    endpoint, _secret = endpoint_create(url=URL, event_types=types, **kwargs)
    return endpoint


def test_outbox_event_becomes_one_delivery_per_matching_active_endpoint():
    orders = _endpoint(("order.*",))
    everything = _endpoint(("*",))
    _endpoint(("subscription.*", "invoice.paid"))
    _endpoint(("order.*",), is_active=False)

    outbox_publish(topic="order.paid", payload={"order": "A"}, aggregate_id=1)
    outbox_relay()

    assert sorted(Delivery.objects.values_list("endpoint_id", flat=True)) == [
        orders.pk,
        everything.pk,
    ]
    assert set(Delivery.objects.values_list("status", flat=True)) == {"pending"}


def test_exact_type_pattern_matches_only_that_type():
    endpoint = _endpoint(("invoice.paid",))
    outbox_publish(topic="invoice.paid", payload={})
    outbox_publish(topic="invoice.payment_failed", payload={})
    outbox_relay()
    assert list(Delivery.objects.values_list("event_type", flat=True)) == [
        "invoice.paid"
    ]
    assert Delivery.objects.get().endpoint == endpoint


def test_replayed_outbox_event_does_not_create_second_delivery():
    _endpoint()
    event = outbox_publish(topic="order.paid", payload={})
    outbox_relay()
    # The relay publishing the same event again (a replay, a crashed relay).
    OutboxEvent.objects.filter(pk=event.pk).update(published_at=None)
    outbox_relay()
    assert deliveries_create_for_event(event=event) == []
    assert Delivery.objects.count() == 1


def test_delivery_unique_per_endpoint_and_event_in_database():
    endpoint = _endpoint()
    fields = {
        "event_type": "order.paid",
        "body": "{}",
        "window_started_at": "2026-01-01T00:00Z",
    }
    Delivery.objects.create(endpoint=endpoint, event_id=5, **fields)

    with pytest.raises(IntegrityError), transaction.atomic():
        Delivery.objects.create(endpoint=endpoint, event_id=5, **fields)


def test_envelope_carries_created_and_object_version():
    _endpoint()
    for status in ("paid", "fulfilled"):
        outbox_publish(
            topic=f"order.{status}",
            payload={"status": status},
            aggregate_type="order",
            aggregate_id=41,
        )
    outbox_publish(
        topic="order.paid", payload={}, aggregate_type="order", aggregate_id=42
    )
    outbox_relay()

    bodies = [json.loads(d.body) for d in Delivery.objects.order_by("event_id")]
    assert [(b["object"]["id"], b["object"]["version"]) for b in bodies] == [
        ("41", 1),
        ("41", 2),
        ("42", 1),
    ]
    events = OutboxEvent.objects.order_by("pk")
    assert [b["created"] for b in bodies] == [
        int(e.created_at.timestamp()) for e in events
    ]
    assert bodies[1]["data"] == {"status": "fulfilled"}


def test_body_over_the_cap_is_sent_without_data(settings):
    settings.WEBHOOKS_MAX_BODY_BYTES = 500
    _endpoint()
    outbox_publish(topic="order.paid", payload={"note": "x" * 1000}, aggregate_id=3)
    outbox_relay()
    body = json.loads(Delivery.objects.get().body)
    assert body["data"] is None
    assert body["data_omitted"] == "too_large"
    assert len(Delivery.objects.get().body) <= 500


def test_resend_on_disabled_endpoint_is_refused():
    endpoint = _endpoint()
    outbox_publish(topic="order.paid", payload={})
    outbox_relay()
    delivery = Delivery.objects.get()
    Delivery.objects.filter(pk=delivery.pk).update(status="dead")
    Endpoint.objects.filter(pk=endpoint.pk).update(is_active=False)
    with pytest.raises(EndpointInactive):
        delivery_resend(delivery_id=delivery.pk)


def test_resend_while_sending_is_refused():
    _endpoint()
    outbox_publish(topic="order.paid", payload={})
    outbox_relay()
    delivery = Delivery.objects.get()
    Delivery.objects.filter(pk=delivery.pk).update(status="sending")
    with pytest.raises(InvalidTransition):
        delivery_resend(delivery_id=delivery.pk)


def test_resend_all_failed_requeues_failed_and_dead_only(
    django_capture_on_commit_callbacks,
):
    endpoint = _endpoint()
    for _ in range(4):
        outbox_publish(topic="order.paid", payload={})
    outbox_relay()
    rows = list(Delivery.objects.order_by("pk"))
    for row, status in zip(
        rows, ("failed", "dead", "succeeded", "pending"), strict=True
    ):
        Delivery.objects.filter(pk=row.pk).update(status=status, attempts=3)

    with django_capture_on_commit_callbacks() as callbacks:
        assert deliveries_resend_failed(endpoint_ids=[endpoint.pk]) == 2
    assert len(callbacks) == 2
    assert list(Delivery.objects.order_by("pk").values_list("status", "attempts")) == [
        ("pending", 0),
        ("pending", 0),
        ("succeeded", 3),
        ("pending", 3),
    ]


def test_endpoint_create_validates_event_types():
    with pytest.raises(ValidationError):
        endpoint_create(url=URL, event_types=["orders paid"])
    with pytest.raises(ValidationError):
        endpoint_create(url=URL, event_types=[])


def test_endpoint_secret_is_random_and_prefixed():
    first, secret = endpoint_create(url=URL, event_types=["order.*"])
    _second, other = endpoint_create(url=URL, event_types=["order.*"])
    assert secret.startswith("whsec_")
    assert len(secret) > 40
    assert secret != other
    assert first.secret_hint.startswith("whsec_")
    assert secret not in first.secret_hint


def test_reactivating_endpoint_clears_dead_count():
    endpoint = _endpoint()
    Endpoint.objects.filter(pk=endpoint.pk).update(
        is_active=False, consecutive_dead_count=5, disabled_reason="5 dead"
    )
    endpoint = endpoint_update(
        endpoint_id=endpoint.pk,
        url=URL,
        event_types=["order.*"],
        description="",
        is_active=True,
    )
    assert (endpoint.consecutive_dead_count, endpoint.disabled_reason) == (0, "")
