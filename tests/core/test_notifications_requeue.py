"""A broker hiccup when queuing must not lose emails (exactly-once, eventually)."""

from datetime import timedelta

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from apps.core import tasks
from apps.core.models import Notification
from apps.core.notifications import notification_enqueue, notifications_requeue_stuck

pytestmark = pytest.mark.django_db


def _enqueue(key: str) -> Notification:
    return notification_enqueue(
        kind="order.confirmation",
        recipient=f"{key}@example.com",
        idempotency_key=key,
        subject="Your order",
        body_text="Thanks.",
    )


@pytest.fixture
def broker_down_once(monkeypatch):
    real = tasks.send_notification.apply_async
    calls = {"n": 0}

    def apply_async(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("Redis unavailable")
        return real(*args, **kwargs)

    monkeypatch.setattr(tasks.send_notification, "apply_async", apply_async)


def test_notification_enqueue_broker_fails_once_others_sent_and_sweep_sends_rest(
    broker_down_once, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        first = _enqueue("a")
        _enqueue("b")

    assert [m.to for m in mail.outbox] == [["b@example.com"]]
    Notification.objects.filter(pk=first.pk).update(
        updated_at=timezone.now() - timedelta(minutes=30)
    )

    with django_capture_on_commit_callbacks(execute=True):
        notifications_requeue_stuck()
    with django_capture_on_commit_callbacks(execute=True):
        notifications_requeue_stuck()

    assert sorted(m.to[0] for m in mail.outbox) == ["a@example.com", "b@example.com"]
    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}


def test_requeue_task_sends_a_pending_notification_left_behind(
    time_machine, django_capture_on_commit_callbacks
):
    time_machine.move_to("2026-01-01T00:00:00Z")
    stranded = Notification.objects.create(
        kind="order.confirmation",
        recipient="late@example.com",
        idempotency_key="stranded",
        subject="Your order",
        body_text="Thanks.",
    )
    time_machine.move_to("2026-01-01T00:30:00Z")

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.requeue_stuck_notifications.apply().get() == 1

    stranded.refresh_from_db()
    assert stranded.status == Notification.Status.SENT
    assert [m.to for m in mail.outbox] == [["late@example.com"]]
