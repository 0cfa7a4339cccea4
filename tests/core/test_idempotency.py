import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from apps.core.models import AuditLog, IdempotencyRecord

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.core.urls_errors")]


def test_post_with_same_key_and_body_replays_first_response(api_client):
    first = api_client.post(
        "/api/v1/things/", {"a": 1}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    second = api_client.post(
        "/api/v1/things/", {"a": 1}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert AuditLog.objects.filter(action="thing_created").count() == 1


def test_post_with_same_key_and_other_body_returns_422(api_client):
    api_client.post(
        "/api/v1/things/", {"a": 1}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    response = api_client.post(
        "/api/v1/things/", {"a": 2}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert AuditLog.objects.filter(action="thing_created").count() == 1


def test_post_without_key_runs_every_time(api_client):
    api_client.post("/api/v1/things/", {"a": 1}, format="json")
    api_client.post("/api/v1/things/", {"a": 1}, format="json")
    assert AuditLog.objects.filter(action="thing_created").count() == 2


def test_keys_are_scoped_per_user(api_client, django_user_model):
    alice = django_user_model.objects.create_user("alice@example.com", "pw-123456!")
    bob = django_user_model.objects.create_user("bob@example.com", "pw-123456!")
    for user in (alice, bob):
        client = APIClient()
        client.force_authenticate(user)
        response = client.post(
            "/api/v1/things/", {"a": 1}, format="json", HTTP_IDEMPOTENCY_KEY="same"
        )
        assert response.status_code == 201
    assert AuditLog.objects.filter(action="thing_created").count() == 2
    assert set(AuditLog.objects.values_list("actor__email", flat=True)) == {
        "alice@example.com",
        "bob@example.com",
    }


def test_expired_key_can_be_reused(api_client, time_machine):
    time_machine.move_to("2026-01-01T00:00:00Z")
    api_client.post(
        "/api/v1/things/", {"a": 1}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    time_machine.move_to("2026-01-02T00:00:01Z")
    response = api_client.post(
        "/api/v1/things/", {"a": 2}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert response.status_code == 201
    assert IdempotencyRecord.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_execute_once():
    barrier = threading.Barrier(8)
    statuses: list[int] = []

    def send():
        client = APIClient()
        barrier.wait()
        try:
            response = client.post(
                "/api/v1/things/", {"a": 1}, format="json", HTTP_IDEMPOTENCY_KEY="race"
            )
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert AuditLog.objects.filter(action="thing_created").count() == 1
    assert statuses.count(201) >= 1
    assert set(statuses) <= {201, 409}
