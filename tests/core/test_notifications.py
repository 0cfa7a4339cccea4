"""The single email path: record once per key, deliver once, record failures."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

from apps.core.exceptions import TransientError
from apps.core.models import Notification
from apps.core.notifications import (
    notification_deliver,
    notification_enqueue,
    notification_enqueue_template,
)

pytestmark = pytest.mark.django_db

FAILING_BACKEND = "tests.core.test_notifications.FailingEmailBackend"


class FailingEmailBackend(BaseEmailBackend):
    """An SMTP server that refuses every connection (also used by worker tests)."""

    def send_messages(self, email_messages):
        raise ConnectionRefusedError("SMTP server unavailable")


def _enqueue(key="order-1-confirmation", **overrides):
    values = {
        "kind": "order.confirmation",
        "recipient": "buyer@example.com",
        "idempotency_key": key,
        "subject": "Your order",
        "body_text": "Thanks for your order.",
        "body_html": "<p>Thanks for your order.</p>",
    }
    values.update(overrides)
    return notification_enqueue(**values)


def test_notification_enqueue_sends_one_mail_after_commit(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        notification = _enqueue()

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["buyer@example.com"]
    assert message.subject == "Your order"
    assert message.alternatives[0][1] == "text/html"
    assert message.extra_headers["X-Notification-Key"] == "order-1-confirmation"
    notification.refresh_from_db()
    assert notification.status == Notification.Status.SENT
    assert notification.attempts == 1
    assert notification.sent_at is not None


def test_notification_enqueue_nothing_sent_before_commit(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _enqueue()

    assert len(callbacks) == 1
    assert mail.outbox == []


def test_notification_enqueue_same_key_twice_sends_once(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        first = _enqueue()
        second = _enqueue(body_text="A different body")

    assert second.pk == first.pk
    assert Notification.objects.count() == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].body == "Thanks for your order."


def test_notification_enqueue_template_renders_subject_text_and_html(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        notification_enqueue_template(
            kind="account.login_code",
            recipient="code@example.com",
            idempotency_key="tpl-1",
            template_prefix="account/email/login_code",
            context={"code": "ABC-123", "current_site": None},
        )

    message = mail.outbox[0]
    assert "ABC-123" in message.body
    assert "ABC-123" in message.alternatives[0][0]
    assert "\n" not in message.subject


def test_notification_deliver_twice_sends_one_mail():
    notification = _enqueue(key="redelivered")

    first = notification_deliver(notification_id=notification.pk)
    second = notification_deliver(notification_id=notification.pk)

    assert first.status == second.status == Notification.Status.SENT
    assert len(mail.outbox) == 1
    notification.refresh_from_db()
    assert notification.attempts == 1


def test_notification_deliver_failing_backend_records_attempt_and_raises(settings):
    settings.EMAIL_BACKEND = FAILING_BACKEND
    notification = _enqueue(key="smtp-down")

    with pytest.raises(TransientError):
        notification_deliver(notification_id=notification.pk)

    notification.refresh_from_db()
    assert notification.status == Notification.Status.FAILED
    assert notification.attempts == 1
    assert notification.last_error == (
        "ConnectionRefusedError: SMTP server unavailable"
    )


def test_notification_deliver_after_failure_succeeds_and_clears_error(settings):
    settings.EMAIL_BACKEND = FAILING_BACKEND
    notification = _enqueue(key="smtp-back")
    with pytest.raises(TransientError):
        notification_deliver(notification_id=notification.pk)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

    notification_deliver(notification_id=notification.pk)

    notification.refresh_from_db()
    assert notification.status == Notification.Status.SENT
    assert notification.attempts == 2
    assert notification.last_error == ""
    assert len(mail.outbox) == 1


def test_notification_deliver_while_another_worker_sends_does_nothing():
    notification = _enqueue(key="in-flight")
    Notification.objects.filter(pk=notification.pk).update(
        status=Notification.Status.SENDING,
        claimed_by="other-worker",
        lease_expires_at=timezone.now() + timedelta(minutes=1),
    )

    result = notification_deliver(notification_id=notification.pk)

    assert (result.status, result.claimed_by) == (
        Notification.Status.SENDING,
        "other-worker",
    )
    assert mail.outbox == []


def test_notification_deliver_stale_sending_row_is_taken_over():
    notification = _enqueue(key="crashed-worker")
    Notification.objects.filter(pk=notification.pk).update(
        status=Notification.Status.SENDING,
        claimed_by="dead-worker",
        lease_expires_at=timezone.now() - timedelta(seconds=1),
    )

    result = notification_deliver(notification_id=notification.pk)

    assert result.status == Notification.Status.SENT
    assert (result.claimed_by, result.lease_expires_at) == ("", None)
    assert len(mail.outbox) == 1


def test_notification_deliver_failure_releases_the_lease_for_the_retry(settings):
    settings.EMAIL_BACKEND = FAILING_BACKEND
    notification = _enqueue(key="retry-soon")

    with pytest.raises(TransientError):
        notification_deliver(notification_id=notification.pk)

    notification.refresh_from_db()
    assert notification.status == Notification.Status.FAILED
    assert (notification.claimed_by, notification.lease_expires_at) == ("", None)
