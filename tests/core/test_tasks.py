"""core.send_notification: retries, idempotency, and a real worker."""

import json
import os
import signal
import time
from datetime import timedelta

import pytest
from celery.signals import task_retry
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

from apps.core.exceptions import TransientError
from apps.core.models import Notification
from apps.core.notifications import notification_enqueue
from apps.core.tasks import send_notification
from tests.conftest import start_celery_worker, stop_celery_worker
from tests.core.test_notifications import FAILING_BACKEND

LOCMEM_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

pytestmark = pytest.mark.django_db


def _notification(key: str) -> Notification:
    return notification_enqueue(
        kind="test.mail",
        recipient="someone@example.com",
        idempotency_key=key,
        subject="Hello",
        body_text="Hello there.",
    )


def test_send_notification_retry_policy_is_declared():
    assert send_notification.name == "core.send_notification"
    assert send_notification.autoretry_for == (TransientError,)
    assert send_notification.retry_backoff == 2
    assert send_notification.retry_backoff_max == 600
    assert send_notification.max_retries == 6
    assert send_notification.acks_late is True


def test_send_notification_run_twice_sends_one_mail():
    notification = _notification("task-twice")

    first = send_notification.apply(args=[notification.pk])
    second = send_notification.apply(args=[notification.pk])  # redelivery

    assert first.get() == second.get() == "sent"
    assert len(mail.outbox) == 1
    notification.refresh_from_db()
    assert notification.attempts == 1


def test_send_notification_failing_backend_retries_with_backoff(
    settings, eager_retries
):
    settings.EMAIL_BACKEND = FAILING_BACKEND
    notification = _notification("task-smtp-down")
    countdowns = []

    def record(sender=None, reason=None, **_kwargs):
        countdowns.append(reason.when)

    task_retry.connect(record, sender=send_notification, weak=False)
    try:
        result = send_notification.apply(args=[notification.pk])
    finally:
        task_retry.disconnect(record, sender=send_notification)

    assert result.failed()
    assert isinstance(result.result, TransientError)
    assert countdowns == [2, 4, 8, 16, 32, 64]  # exponential backoff, no jitter
    notification.refresh_from_db()
    assert notification.attempts == 7  # the first try and six retries
    assert notification.status == Notification.Status.FAILED
    assert "SMTP server unavailable" in notification.last_error
    assert mail.outbox == []


# --- a real worker (PostgreSQL or SQLite file + Redis) -----------------------------


def _wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    return predicate()


@pytest.fixture
def failing_mail_worker(monkeypatch, request):
    """A worker process whose email backend always refuses the connection."""
    monkeypatch.setenv("WORKER_TEST_EMAIL_BACKEND", FAILING_BACKEND)
    return request.getfixturevalue("celery_worker")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_worker_delivers_enqueued_notification(celery_worker):
    notification = _notification("worker-sent")  # autocommit: queued at once

    def sent():
        notification.refresh_from_db()
        return notification.status == Notification.Status.SENT

    assert _wait_for(sent)
    assert notification.attempts == 1
    assert notification.sent_at is not None
    # Sent by the worker process, not eagerly in this one.
    assert mail.outbox == []


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_worker_redelivered_task_does_not_send_again(celery_worker):
    notification = _notification("worker-twice")

    def sent():
        notification.refresh_from_db()
        return notification.status == Notification.Status.SENT

    assert _wait_for(sent)
    result = send_notification.delay(notification.pk)  # the broker redelivers

    assert result.get(timeout=30) == "sent"
    notification.refresh_from_db()
    assert notification.attempts == 1


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_worker_failing_backend_retries_and_counts_attempts(failing_mail_worker):
    notification = _notification("worker-smtp-down")

    def three_attempts():
        notification.refresh_from_db()
        return notification.attempts >= 3

    # Tries at about 0 s, 2 s and 6 s (backoff 2, 4, ...).
    assert _wait_for(three_attempts, timeout=40)
    assert notification.status in {
        Notification.Status.FAILED,
        Notification.Status.SENDING,
    }
    assert "SMTP server unavailable" in notification.last_error


# --- acks_late: a worker that dies mid-task loses nothing ------------------------

HANGING_BACKEND = "tests.core.test_tasks.HangingEmailBackend"


class HangingEmailBackend(BaseEmailBackend):
    """An SMTP server that takes the connection and never answers."""

    def send_messages(self, email_messages):
        time.sleep(3600)


def _unacked_tags(queue: str) -> list[str]:
    """Delivery tags the broker holds for `queue` as taken but not acknowledged."""
    from config.celery import app

    with app.connection_for_write() as conn:
        channel = conn.default_channel
        return [
            tag.decode()
            for tag, raw in channel.client.hgetall(channel.unacked_key).items()
            if json.loads(raw)[2] == queue
        ]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_send_task_is_redelivered_and_sent_once(monkeypatch, request):
    from config.celery import app

    monkeypatch.setenv("WORKER_TEST_EMAIL_BACKEND", HANGING_BACKEND)
    first = request.getfixturevalue("celery_worker")
    notification = _notification("worker-killed")

    def sending():
        notification.refresh_from_db()
        return notification.status == Notification.Status.SENDING

    assert _wait_for(sending), "the first worker never started the task"
    os.killpg(first.pid, signal.SIGKILL)  # the OOM killer, a lost machine
    first.wait(timeout=10)

    # acks_late: the message is acknowledged when the task ends, so the dead
    # worker's task is still owed by the broker, not lost.
    tags = _unacked_tags(first.queue)
    assert len(tags) == 1
    # What Redis's visibility timeout (1 h) and the 15-minute sending lease
    # would do in time, done now: requeue the message, let the lease lapse.
    with app.connection_for_write() as conn:
        conn.default_channel.qos.restore_by_tag(tags[0])
    Notification.objects.filter(pk=notification.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    healthy = {**first.env, "WORKER_TEST_EMAIL_BACKEND": LOCMEM_BACKEND}
    second = start_celery_worker(first.queue, healthy)
    try:

        def sent():
            notification.refresh_from_db()
            return notification.status == Notification.Status.SENT

        assert _wait_for(sent), "the redelivered task was not run"
    finally:
        stop_celery_worker(second)
    assert notification.sent_at is not None
    assert _unacked_tags(first.queue) == []
