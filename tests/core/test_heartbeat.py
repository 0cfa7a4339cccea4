"""Beat's heartbeat and /readyz: a stalled clock is a 503 with a reason."""

import pytest
from django.conf import settings as django_settings

from apps.core import views
from apps.core.tasks import beat_heartbeat

pytestmark = pytest.mark.django_db


@pytest.fixture
def with_beat(settings, monkeypatch):
    """Production-like: tasks go to a broker (taken as up), so beat counts."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    monkeypatch.setattr(views, "_check_broker", lambda: None)


def test_beat_heartbeat_is_in_the_beat_schedule():
    entry = django_settings.CELERY_BEAT_SCHEDULE["core.beat_heartbeat"]
    assert entry["task"] == beat_heartbeat.name
    # Ticks well inside the 10 minutes /readyz allows.
    assert entry["schedule"] <= django_settings.BEAT_HEARTBEAT_MAX_AGE / 5


def test_readyz_fresh_heartbeat_200_stale_503_with_reason(
    client, with_beat, time_machine
):
    time_machine.move_to("2026-03-01 10:00:00Z", tick=False)
    beat_heartbeat.apply()

    time_machine.move_to("2026-03-01 10:09:59Z", tick=False)
    fresh = client.get("/readyz")
    assert fresh.status_code == 200, fresh.content
    assert "beat" in fresh.json()["checks"]

    time_machine.move_to("2026-03-01 10:10:01Z", tick=False)
    stale = client.get("/readyz")
    assert stale.status_code == 503
    body = stale.json()
    assert body["failed"] == {"beat": "BeatStale"}
    assert body["reasons"]["beat"] == "beat's last tick was 601 s ago (limit 600 s)"

    beat_heartbeat.apply()  # beat is back
    assert client.get("/readyz").status_code == 200


def test_readyz_no_heartbeat_ever_503(client, with_beat):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "not ticked" in response.json()["reasons"]["beat"]


def test_readyz_embedded_mode_has_no_beat_to_check(client):
    # Eager Celery (make run without Redis): no beat runs, none is expected.
    response = client.get("/readyz")
    assert response.status_code == 200
