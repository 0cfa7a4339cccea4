import json
import logging

import pytest

pytestmark = pytest.mark.django_db


def test_pages_send_csp_allowing_only_self_and_stripe(client, settings):
    response = client.get("/")
    policy = response["Content-Security-Policy"]
    script_src = next(p for p in policy.split(";") if "script-src" in p).split()
    assert script_src[1:] == ["'self'", "http://127.0.0.1:8420"]
    assert "frame-ancestors 'none'" in policy


def test_json_log_lines_carry_the_request_id(client):
    from pythonjsonlogger.json import JsonFormatter

    from apps.core.logging import RequestIdFilter, set_request_id

    record = logging.LogRecord(
        "apps.test", logging.INFO, __file__, 1, "hello", (), None
    )
    set_request_id("rid-abcdef12")
    try:
        RequestIdFilter().filter(record)
    finally:
        set_request_id(None)
    line = JsonFormatter("%(levelname)s %(message)s %(request_id)s").format(record)
    assert json.loads(line)["request_id"] == "rid-abcdef12"


def test_celery_task_publish_carries_request_id():
    from apps.core.logging import set_request_id
    from config.celery import _attach_request_id

    headers: dict = {}
    set_request_id("rid-from-web-1")
    try:
        _attach_request_id(headers=headers)
    finally:
        set_request_id(None)
    assert headers["request_id"] == "rid-from-web-1"


def test_celery_task_logs_carry_the_request_id_that_queued_them():
    from types import SimpleNamespace

    from apps.core.logging import get_request_id
    from config.celery import _clear_request_id, _restore_request_id

    queued_by_web = SimpleNamespace(
        request=SimpleNamespace(request_id="rid-from-web-1", id="task-1")
    )
    queued_by_beat = SimpleNamespace(request=SimpleNamespace(id="task-2"))

    _restore_request_id(task=queued_by_web)
    assert get_request_id() == "rid-from-web-1"
    _restore_request_id(task=queued_by_beat)
    assert get_request_id() == "task-2"  # no web request: the task's own id
    _clear_request_id()
    assert get_request_id() is None
