"""core.send_notification: retries, idempotency, and a real worker."""

import time

import pytest
from celery.signals import task_retry
from django.core import mail

from apps.core.exceptions import TransientError
from apps.core.models import Notification
from apps.core.notifications import notification_enqueue
from apps.core.tasks import send_notification
from tests.core.test_notifications import FAILING_BACKEND

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
    settings, eager_failures_returned
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
