"""A request that died mid-way must not block its Idempotency-Key for 24 hours."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.models import AuditLog, IdempotencyRecord

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.core.urls_errors")]


def _post(api_client):
    return api_client.post(
        "/api/v1/things/", {"a": 1}, format="json", HTTP_IDEMPOTENCY_KEY="crash"
    )


def _as_if_worker_died(*, ago: timedelta) -> None:
    """Leave the key as a killed worker would: claimed, never finished."""
    IdempotencyRecord.objects.filter(key="crash").update(
        state=IdempotencyRecord.State.IN_PROGRESS,
        response_status=None,
        response_body=None,
        created_at=timezone.now() - ago,
    )
    AuditLog.objects.filter(action="thing_created").delete()


def test_idempotent_post_after_worker_died_long_ago_runs_again(api_client):
    _post(api_client)
    _as_if_worker_died(ago=timedelta(minutes=10))

    response = _post(api_client)

    assert response.status_code == 201
    assert AuditLog.objects.filter(action="thing_created").count() == 1
    assert IdempotencyRecord.objects.get(key="crash").state == "done"


def test_idempotent_post_while_first_still_running_returns_409(api_client):
    _post(api_client)
    _as_if_worker_died(ago=timedelta(seconds=5))

    response = _post(api_client)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_request_in_progress"
    assert AuditLog.objects.filter(action="thing_created").count() == 0
