"""Admin: endpoints (secret shown once), deliveries with attempts, resend."""

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.core.outbox import outbox_publish, outbox_relay
from apps.webhooks.models import Delivery, Endpoint
from apps.webhooks.services import endpoint_create

pytestmark = pytest.mark.django_db

ENDPOINTS = "admin:webhooks_endpoint_changelist"
DELIVERIES = "admin:webhooks_delivery_changelist"


def _deliveries(n: int, url: str = "https://hooks.example.com/") -> Endpoint:
    endpoint, _secret = endpoint_create(url=url, event_types=["order.*"])
    for _ in range(n):
        outbox_publish(topic="order.paid", payload={"order": "A"})
    outbox_relay()
    return endpoint


@pytest.mark.parametrize("url", [ENDPOINTS, DELIVERIES])
def test_admin_changelist_query_count_same_for_1_and_5_rows(
    admin_client, django_assert_num_queries, url
):
    endpoint = _deliveries(1)
    admin_client.get(reverse(url))
    with CaptureQueriesContext(connection) as one:
        assert admin_client.get(reverse(url)).status_code == 200
    if url == ENDPOINTS:
        for _ in range(4):
            endpoint_create(url=endpoint.url, event_types=["invoice.*"])
    else:
        for _ in range(4):
            outbox_publish(topic="order.paid", payload={"order": "B"})
        outbox_relay()

    with django_assert_num_queries(len(one)):
        r = admin_client.get(reverse(url))
    assert r.context["cl"].result_count == 5


def test_admin_add_endpoint_shows_secret_once(admin_client):
    r = admin_client.post(
        reverse("admin:webhooks_endpoint_add"),
        {
            "url": "https://hooks.example.com/new",
            "description": "ERP",
            "event_types_text": "order.*\ninvoice.*",
            "is_active": "on",
        },
        follow=True,
    )
    endpoint = Endpoint.objects.get()
    assert endpoint.event_types == ["order.*", "invoice.*"]
    shown = [str(m) for m in get_messages(r.wsgi_request)]
    assert any(endpoint.secret in m for m in shown)

    change = admin_client.get(
        reverse("admin:webhooks_endpoint_change", args=[endpoint.pk])
    )
    assert change.status_code == 200
    assert endpoint.secret not in change.content.decode()
    assert endpoint.secret_hint in change.content.decode()


def test_admin_add_endpoint_bad_event_type_rerenders_with_error(admin_client):
    r = admin_client.post(
        reverse("admin:webhooks_endpoint_add"),
        {"url": "https://hooks.example.com/", "event_types_text": "Orders!"},
    )
    assert r.status_code == 200
    assert "event_types_text" in r.context["adminform"].form.errors
    assert not Endpoint.objects.exists()


def test_admin_delivery_page_shows_request_and_attempts(
    admin_client, receiver, run_beat
):
    receiver.statuses = [500]
    _deliveries(1, url=receiver.url)
    run_beat()
    delivery = Delivery.objects.get()

    r = admin_client.get(reverse("admin:webhooks_delivery_change", args=[delivery.pk]))

    page = r.content.decode()
    assert r.status_code == 200
    assert "Shop-Signature" in page
    assert "order.paid" in page
    assert "HTTP 500" in page


def test_admin_resend_action_resends_selected_delivery(
    admin_client, receiver, run_beat, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOKS_MAX_ATTEMPTS = 1
    receiver.statuses = [500, 200]
    _deliveries(1, url=receiver.url)
    run_beat()
    delivery = Delivery.objects.get()
    assert delivery.status == "dead"

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse(DELIVERIES),
            {"action": "resend", "_selected_action": [delivery.pk]},
        )

    delivery.refresh_from_db()
    assert delivery.status == "succeeded"
    assert len(receiver.requests) == 2


def test_admin_endpoint_resend_failed_action(
    admin_client, receiver, run_beat, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOKS_MAX_ATTEMPTS = 1
    receiver.statuses = [500, 500, 200]
    endpoint = _deliveries(2, url=receiver.url)
    run_beat()
    assert set(Delivery.objects.values_list("status", flat=True)) == {"dead"}

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse(ENDPOINTS),
            {"action": "resend_failed", "_selected_action": [endpoint.pk]},
        )

    assert sorted(Delivery.objects.values_list("status", flat=True)) == [
        "succeeded",
        "succeeded",
    ]
