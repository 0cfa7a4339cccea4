"""Receivers the outbox tests register, also imported by a relay subprocess."""

import os
import time
from pathlib import Path

from apps.core.models import AuditLog, OutboxEvent
from apps.core.outbox import outbox_receiver


@outbox_receiver("test.counted")
def count_event(event: OutboxEvent) -> None:
    """Leave one audit row per delivery, so a test can count deliveries."""
    AuditLog.objects.create(action="outbox.received", object_id=str(event.pk))
    if event.payload.get("hang"):
        # Tell the test the receiver is mid-event (its row written but not
        # committed), then wait to be killed.
        Path(os.environ["OUTBOX_TEST_HANG_FLAG"]).touch()
        time.sleep(600)


@outbox_receiver("test.broken")
def broken(event: OutboxEvent) -> None:
    AuditLog.objects.create(action="outbox.broken", object_id=str(event.pk))
    raise RuntimeError("receiver down")
