"""/metrics: who may scrape it, and real values after a checkout."""

from __future__ import annotations

import pytest
from celery import shared_task
from prometheus_client.parser import text_string_to_metric_families

from apps.core.outbox import outbox_publish

pytestmark = pytest.mark.django_db

TOKEN = "metrics-test-token-0123456789"


def scrape(client) -> dict[tuple[str, tuple], float]:
    """Every sample of /metrics as {(name, sorted labels): value}."""
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def allow_scrape(settings) -> None:
    """Production-like: the scraper is known by its token only."""
    settings.METRICS_BEARER_TOKEN = TOKEN
    settings.METRICS_ALLOWED_IPS = []


@pytest.fixture
def metrics_token(settings):
    allow_scrape(settings)


def test_metrics_with_production_defaults_refused_even_from_loopback(client, settings):
    # production.py sets neither: no token and no address is allowed.
    settings.METRICS_BEARER_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = []
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_metrics_without_or_with_wrong_token_refused(client, metrics_token):
    assert client.get("/metrics").status_code == 403
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token")
    assert wrong.status_code == 403
    assert wrong["WWW-Authenticate"].startswith("Bearer")
    right = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert right.status_code == 200
    assert right["Content-Type"].startswith("text/plain")


def test_metrics_allowed_network_without_token(client, settings):
    settings.METRICS_BEARER_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 403


def test_production_settings_protect_metrics(settings):
    """The production module itself leaves /metrics closed by default."""
    import ast

    source = (settings.BASE_DIR / "config/settings/production.py").read_text()
    assigned = {
        target.id
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    # Nothing in production.py opens it; base.py's defaults (empty) apply.
    assert "METRICS_ALLOWED_IPS" not in assigned
    assert "METRICS_BEARER_TOKEN" not in assigned


def test_metrics_outbox_lag_is_the_oldest_unpublished_event_age(
    client, metrics_token, time_machine
):
    time_machine.move_to("2026-01-01 12:00:00Z", tick=False)
    outbox_publish(topic="test.lag", payload={})
    time_machine.move_to("2026-01-01 12:02:30Z", tick=False)
    samples = scrape(client)
    assert value(samples, "shop_outbox_lag_seconds") == 150
    assert value(samples, "shop_outbox_unpublished") == 1


def test_metrics_gauges_count_open_dunning_cases_and_deliveries_by_result(
    client, metrics_token
):
    from apps.webhooks.models import Delivery
    from apps.webhooks.services import endpoint_create
    from tests.dunning.factories import DunningCaseFactory

    DunningCaseFactory.create_batch(2)
    endpoint, _ = endpoint_create(
        url="https://hooks.example.com/in", event_types=["order.*"]
    )
    for event_id in (1, 2, 3):
        Delivery.objects.create(
            endpoint=endpoint,
            event_id=event_id,
            event_type="order.paid",
            body="{}",
            window_started_at="2026-01-01T00:00Z",
        )

    samples = scrape(client)

    assert value(samples, "shop_dunning_cases_open") == 2
    pending = Delivery.objects.values_list("status", flat=True).first()
    assert value(samples, "shop_webhook_deliveries", result=pending) == 3
    assert "shop_outbox_lag_seconds" in {name for name, _ in samples}


@shared_task(name="tests.metrics_failing_task")
def failing_task() -> None:
    raise RuntimeError("boom")


def test_metrics_celery_task_failure_counted(client, metrics_token):
    before = value(
        scrape(client), "shop_celery_task_failures_total", task=failing_task.name
    )
    # throw=False: Celery reads eager_propagates from its own app config, which
    # a settings override made after the app was configured does not reach.
    result = failing_task.apply(throw=False)
    assert result.failed()
    after = value(
        scrape(client), "shop_celery_task_failures_total", task=failing_task.name
    )
    assert after - before == 1


@pytest.mark.worker
def test_metrics_celery_queue_length_read_from_redis(client, metrics_token, settings):
    import redis

    queue = "metrics-test-queue"
    settings.CELERY_BROKER_URL = settings.REDIS_URL
    settings.METRICS_CELERY_QUEUES = [queue]
    conn = redis.Redis.from_url(settings.REDIS_URL)
    conn.delete(queue)
    conn.lpush(queue, "a", "b", "c")
    try:
        samples = scrape(client)
    finally:
        conn.delete(queue)
    assert value(samples, "shop_celery_queue_length", queue=queue) == 3
