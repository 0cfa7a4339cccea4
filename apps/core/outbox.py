"""Transactional outbox: events written with the change, published once.

``outbox_publish`` is called inside the transaction that makes the change, so
the event exists exactly when the change committed. ``outbox_relay`` hands
each unpublished event to the receivers registered for its topic, inside one
transaction per event that also marks it published: a receiver's database
writes and the "published" mark commit together or not at all, so a relay
killed mid-batch republishes nothing and loses nothing. Receivers therefore
write rows (a webhook delivery to send, a fact to count) rather than call
out; their own workers do the slow part.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.core.models import OutboxEvent

logger = logging.getLogger(__name__)

Receiver = Callable[[OutboxEvent], None]
_receivers: dict[str, list[Receiver]] = defaultdict(list)


def outbox_receiver(*topics: str) -> Callable[[Receiver], Receiver]:
    """Register a receiver for the given topics ("*" for every topic)."""

    def register(receiver: Receiver) -> Receiver:
        for topic in topics:
            if receiver not in _receivers[topic]:
                _receivers[topic].append(receiver)
        return receiver

    return register


def outbox_receivers_for(topic: str) -> list[Receiver]:
    return [*_receivers.get(topic, ()), *_receivers.get("*", ())]


def outbox_publish(
    *,
    topic: str,
    payload: dict[str, Any],
    aggregate_type: str = "",
    aggregate_id: str | int = "",
) -> OutboxEvent:
    """Record an event in the caller's transaction and relay it after commit.

    The relay is also run by beat, so an event whose after-commit task could
    not be queued (broker down) is still published.
    """
    event = OutboxEvent.objects.create(
        topic=topic,
        payload=payload,
        aggregate_type=aggregate_type,
        aggregate_id=str(aggregate_id),
    )
    from apps.core.tasks import relay_outbox

    transaction.on_commit(partial(relay_outbox.delay), robust=True)
    return event


def outbox_relay(*, limit: int = 500) -> int:
    """Publish up to ``limit`` unpublished events in order; return how many.

    Each event is claimed with ``SKIP LOCKED`` so relays running at once share
    the work instead of repeating it. An event whose receiver fails keeps its
    place (attempts and last error recorded) and is tried again next run.
    """
    published = 0
    failed: list[int] = []
    for _ in range(limit):
        with transaction.atomic():
            event = (
                OutboxEvent.objects.select_for_update(skip_locked=True)
                .filter(published_at__isnull=True)
                .exclude(pk__in=failed)
                .order_by("pk")
                .first()
            )
            if event is None:
                break
            try:
                with transaction.atomic():
                    for receiver in outbox_receivers_for(event.topic):
                        receiver(event)
            except Exception as exc:
                logger.exception("outbox receiver failed for event %s", event.pk)
                failed.append(event.pk)
                event.attempts += 1
                event.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                event.save(update_fields=["attempts", "last_error"])
                continue
            event.attempts += 1
            event.published_at = timezone.now()
            event.save(update_fields=["attempts", "published_at"])
            published += 1
    return published
