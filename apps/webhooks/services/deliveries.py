"""Outbox events become deliveries; staff resend them.

The receiver runs inside the outbox relay's transaction, so a delivery row
exists exactly when its event is marked published. A replayed event finds
the (endpoint, event) row already there and adds nothing.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.core.models import OutboxEvent
from apps.core.queue import enqueue_on_commit
from apps.webhooks.exceptions import EndpointInactive
from apps.webhooks.models import DELIVERY_STATES, Delivery, Endpoint
from apps.webhooks.services.endpoints import endpoint_matches

D = Delivery.Status


def object_version(event: OutboxEvent) -> int:
    """How many events about this event's object exist up to and including it.

    Events about one object are written under that object's row lock, so
    their ids follow the order of the changes: a receiver keeps the highest
    version it has seen and ignores older ones.
    """
    if not event.aggregate_id:
        return 1
    return OutboxEvent.objects.filter(
        aggregate_type=event.aggregate_type,
        aggregate_id=event.aggregate_id,
        pk__lte=event.pk,
    ).count()


def envelope_body(event: OutboxEvent) -> str:
    """The JSON body sent for ``event``: the same bytes on every attempt."""
    envelope: dict[str, Any] = {
        "id": event.pk,
        "type": event.topic,
        "created": int(event.created_at.timestamp()),
        "object": {
            "type": event.aggregate_type,
            "id": event.aggregate_id,
            "version": object_version(event),
        },
        "data": event.payload,
    }
    body = json.dumps(envelope, separators=(",", ":"), default=str)
    if len(body.encode()) > settings.WEBHOOKS_MAX_BODY_BYTES:
        # The receiver still learns what changed and fetches the object.
        envelope["data"] = None
        envelope["data_omitted"] = "too_large"
        body = json.dumps(envelope, separators=(",", ":"), default=str)
    return body


def deliveries_create_for_event(*, event: OutboxEvent) -> list[Delivery]:
    """Add one delivery per active endpoint that wants ``event``; queue them.

    Called in the caller's transaction (the outbox relay's). Return the new
    deliveries; an event already delivered to an endpoint adds none.
    """
    endpoints = [
        e
        for e in Endpoint.objects.filter(is_active=True).order_by("pk")
        if endpoint_matches(e, event.topic)
    ]
    if not endpoints:
        return []
    body = envelope_body(event)
    now = timezone.now()
    created: list[Delivery] = []
    for endpoint in endpoints:
        try:
            with transaction.atomic():
                delivery = Delivery.objects.create(
                    endpoint=endpoint,
                    event_id=event.pk,
                    event_type=event.topic,
                    body=body,
                    window_started_at=now,
                    next_attempt_at=now,
                )
        except IntegrityError:
            continue
        created.append(delivery)
    from apps.webhooks.tasks import send_delivery

    for delivery in created:
        enqueue_on_commit(send_delivery, delivery.pk)
    return created


def delivery_resend(*, delivery_id: int) -> Delivery:
    """Send a delivery again now, with a fresh set of attempts.

    Raise EndpointInactive when its endpoint is disabled, InvalidTransition
    while it is being sent.
    """
    from apps.webhooks.tasks import send_delivery

    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update()
            .select_related("endpoint")
            .get(pk=delivery_id)
        )
        if not delivery.endpoint.is_active:
            raise EndpointInactive(
                "Turn the endpoint back on before resending its deliveries.",
                details={"endpoint": delivery.endpoint_id},
            )
        now = timezone.now()
        delivery.attempts = 0
        delivery.window_started_at = now
        delivery.next_attempt_at = now
        DELIVERY_STATES.move(
            delivery,
            D.PENDING,
            also_update=["attempts", "window_started_at", "next_attempt_at"],
        )
        enqueue_on_commit(send_delivery, delivery.pk)
    return delivery


def deliveries_failed(endpoint_ids: list[int] | None = None) -> QuerySet[Delivery]:
    """Deliveries that are dead or waiting for a retry."""
    rows = Delivery.objects.filter(status__in=[D.FAILED, D.DEAD])
    if endpoint_ids is not None:
        rows = rows.filter(endpoint_id__in=endpoint_ids)
    return rows


def deliveries_resend_failed(*, endpoint_ids: list[int] | None = None) -> int:
    """Resend every failed or dead delivery of active endpoints; return how many."""
    ids = list(
        deliveries_failed(endpoint_ids)
        .filter(endpoint__is_active=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for pk in ids:
        delivery_resend(delivery_id=pk)
    return len(ids)


def deliveries_due(now: Any = None) -> QuerySet[Delivery]:
    """Deliveries whose attempt is due, or whose sender's lease lapsed."""
    now = now or timezone.now()
    waiting = Q(status__in=[D.PENDING, D.FAILED], next_attempt_at__lte=now)
    abandoned = Q(status=D.SENDING, lease_expires_at__lte=now)
    return Delivery.objects.filter(waiting | abandoned).filter(
        endpoint__in=Endpoint.objects.filter(is_active=True).values("pk")
    )


def deliveries_enqueue_due(*, limit: int = 500) -> int:
    """Queue a send for each due delivery (beat); return how many.

    Queuing one twice is harmless: the send claims the row first.
    """
    from apps.webhooks.tasks import send_delivery

    ids = list(
        deliveries_due()
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in ids:
        enqueue_on_commit(send_delivery, pk)
    return len(ids)
