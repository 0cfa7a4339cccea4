"""The request id: on every log line of a request, echoed, and carried into
the Celery tasks the request queues."""

import io
import json
import logging
import re

import pytest
from django.http import HttpResponse
from django.test import RequestFactory
from pythonjsonlogger.json import JsonFormatter

from apps.core import views
from apps.core.logging import RequestIdFilter
from apps.core.middleware import RequestIdMiddleware

pytestmark = pytest.mark.django_db


@pytest.fixture
def json_lines():
    """Log lines as production writes them: JSON with the request id."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(
        JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s")
    )
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)


@pytest.fixture
def readyz_logs_a_warning(monkeypatch):
    def broken():
        raise ConnectionError("cache down")

    monkeypatch.setattr(views, "_check_cache", broken)


def test_request_id_from_header_on_every_log_line_and_echoed(
    client, json_lines, readyz_logs_a_warning
):
    response = client.get("/readyz", HTTP_X_REQUEST_ID="rid-from-the-edge-1")

    assert response["X-Request-ID"] == "rid-from-the-edge-1"
    lines = json_lines()
    # The view's warning and Django's own 503 line, both tagged.
    assert {line["name"] for line in lines} >= {"apps.core.views", "django.request"}
    assert {line["request_id"] for line in lines} == {"rid-from-the-edge-1"}


@pytest.mark.parametrize("sent", [None, "bad id with spaces", "x" * 200])
def test_request_id_missing_or_unsafe_is_generated(
    client, json_lines, readyz_logs_a_warning, sent
):
    headers = {} if sent is None else {"HTTP_X_REQUEST_ID": sent}
    response = client.get("/readyz", **headers)

    generated = response["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert {line["request_id"] for line in json_lines()} == {generated}


def test_log_line_after_the_request_has_no_request_id(client, json_lines):
    client.get("/healthz", HTTP_X_REQUEST_ID="rid-finished-0001")
    logging.getLogger("apps.core").warning("between requests")
    assert json_lines()[-1]["request_id"] == "-"


@pytest.fixture
def worker_logs_json(monkeypatch):
    """Start the worker (next fixture) with production's JSON log lines."""
    monkeypatch.setenv("DJANGO_LOG_JSON", "1")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_task_queued_by_a_request_logs_with_its_request_id(
    worker_logs_json, celery_worker
):
    """A real worker runs a task the request queued; its log lines (JSON, as
    in production) carry the request's id, from the task's headers."""
    from apps.core.tasks import relay_outbox
    from tests.conftest import stop_celery_worker

    queued = {}

    def view(request):
        queued["result"] = relay_outbox.delay()
        return HttpResponse()

    request = RequestFactory().get("/", HTTP_X_REQUEST_ID="rid-into-the-task-1")
    response = RequestIdMiddleware(view)(request)
    assert response["X-Request-ID"] == "rid-into-the-task-1"
    queued["result"].get(timeout=30)
    log = stop_celery_worker(celery_worker)

    task_id = queued["result"].id
    lines = [
        json.loads(line)
        for line in log.splitlines()
        if line.startswith("{") and task_id in line
    ]
    succeeded = [line for line in lines if "succeeded" in line["message"]]
    assert succeeded, log[-3000:]
    assert succeeded[0]["request_id"] == "rid-into-the-task-1"
