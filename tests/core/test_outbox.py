"""core.outbox: events commit with their change and are published once."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import transaction

from apps.core.models import AuditLog, OutboxEvent
from apps.core.outbox import outbox_publish, outbox_relay
from tests.conftest import ROOT, _database_url_for_subprocess
from tests.core import outbox_receivers  # noqa: F401  registers the receivers
from tests.parallel import run_in_parallel

pytestmark = pytest.mark.django_db


def _unrelayed(count: int, **payload) -> list[OutboxEvent]:
    """Events as outbox_publish writes them, without its after-commit relay
    (which in these autocommit tests would publish them at once)."""
    return [
        OutboxEvent.objects.create(topic="test.counted", payload=dict(payload))
        for _ in range(count)
    ]


def _deliveries(event: OutboxEvent) -> int:
    return AuditLog.objects.filter(
        action="outbox.received", object_id=str(event.pk)
    ).count()


def test_outbox_publish_rolled_back_change_leaves_no_event():
    def change_that_fails():
        with transaction.atomic():
            outbox_publish(topic="test.counted", payload={})
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        change_that_fails()
    assert OutboxEvent.objects.count() == 0


def test_outbox_relay_publishes_each_event_once_in_order():
    first = outbox_publish(topic="test.counted", payload={"n": 1})
    second = outbox_publish(topic="test.counted", payload={"n": 2})

    assert outbox_relay() == 2
    assert outbox_relay() == 0
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.published_at <= second.published_at
    assert (_deliveries(first), _deliveries(second)) == (1, 1)


def test_outbox_relay_failing_receiver_keeps_event_and_others_go_on():
    broken = outbox_publish(topic="test.broken", payload={})
    fine = outbox_publish(topic="test.counted", payload={})

    assert outbox_relay() == 1
    broken.refresh_from_db()
    fine.refresh_from_db()
    assert broken.published_at is None
    assert (broken.attempts, broken.last_error) == (1, "RuntimeError: receiver down")
    # The failed receiver's own writes were rolled back with it.
    assert not AuditLog.objects.filter(action="outbox.broken").exists()
    assert fine.published_at is not None


def test_outbox_publish_queues_the_relay_after_commit(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        event = outbox_publish(topic="test.counted", payload={})
    event.refresh_from_db()
    assert event.published_at is not None
    assert _deliveries(event) == 1


RELAY = (
    "import django; django.setup();"
    "import tests.core.outbox_receivers;"
    "from apps.core.outbox import outbox_relay; outbox_relay()"
)


def _start_relay(flag: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": _database_url_for_subprocess(),
        "OUTBOX_TEST_HANG_FLAG": str(flag),
    }
    return subprocess.Popen(
        [sys.executable, "-c", RELAY], cwd=ROOT, env=env, start_new_session=True
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_outbox_relay_killed_mid_batch_then_restarted_publishes_each_once(tmp_path):
    events = _unrelayed(5)
    hanging = events[2]
    hanging.payload = {"hang": True}
    hanging.save(update_fields=["payload"])
    flag = tmp_path / "hanging"

    relay = _start_relay(flag)
    deadline = time.monotonic() + 60
    while not flag.exists():
        assert relay.poll() is None, "the relay exited before reaching the event"
        assert time.monotonic() < deadline, "the relay never reached the event"
        time.sleep(0.05)
    os.killpg(relay.pid, signal.SIGKILL)
    relay.wait(timeout=10)

    published = set(
        OutboxEvent.objects.filter(published_at__isnull=False).values_list(
            "pk", flat=True
        )
    )
    assert published == {events[0].pk, events[1].pk}
    # The killed delivery's write died with its transaction.
    assert _deliveries(hanging) == 0

    hanging.payload = {}
    hanging.save(update_fields=["payload"])
    restarted = _start_relay(flag)
    assert restarted.wait(timeout=60) == 0
    for event in events:
        event.refresh_from_db()
        assert event.published_at is not None
        assert _deliveries(event) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_outbox_relays_running_at_once_publish_each_event_once():
    events = _unrelayed(40)

    counts, errors = run_in_parallel([outbox_relay] * 4)

    assert errors == []
    assert sum(counts) == 40
    assert [_deliveries(event) for event in events] == [1] * 40
