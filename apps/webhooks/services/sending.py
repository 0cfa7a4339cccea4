"""Send one delivery: claim it, POST it (no transaction open), record the outcome.

Retries are rows, not Celery countdowns: a failed attempt sets
``next_attempt_at`` and beat queues the send again when it is due.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.core.claims import claim, lease_release_fields, worker_id
from apps.webhooks.exceptions import DestinationRefused
from apps.webhooks.models import DELIVERY_STATES, Delivery, DeliveryAttempt
from apps.webhooks.services.deliveries import deliveries_due
from apps.webhooks.services.destinations import checked_session, destination_check
from apps.webhooks.services.endpoints import (
    endpoint_delivery_dead,
    endpoint_delivery_succeeded,
)
from apps.webhooks.services.signing import (
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    SIGNATURE_HEADER,
    signature,
)

D = Delivery.Status
SNIPPET_BYTES = 1024
_jitter = random.SystemRandom()


def send_lease() -> timedelta:
    # Connect and read timeouts, plus room to record the outcome.
    return timedelta(seconds=2 * settings.WEBHOOKS_TIMEOUT_SECONDS + 60)


def retry_delay(attempt: int) -> timedelta:
    """Backoff after failed attempt number ``attempt``: doubling, capped, ±20 %."""
    base = settings.WEBHOOKS_RETRY_BASE_SECONDS * 2 ** (attempt - 1)
    capped = min(base, settings.WEBHOOKS_RETRY_MAX_DELAY_SECONDS)
    return timedelta(seconds=capped * _jitter.uniform(0.8, 1.2))


@dataclass(frozen=True)
class _Outcome:
    started_at: datetime
    duration_ms: int
    headers: dict[str, str]
    status_code: int | None
    snippet: str
    error: str

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _post(delivery: Delivery) -> _Outcome:
    endpoint = delivery.endpoint
    started_at = timezone.now()
    timestamp = int(started_at.timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Shop-Webhooks/1",
        SIGNATURE_HEADER: signature(
            secret=endpoint.secret, timestamp=timestamp, body=delivery.body
        ),
        EVENT_ID_HEADER: str(delivery.event_id),
        EVENT_TYPE_HEADER: delivery.event_type,
    }
    status_code: int | None = None
    snippet = ""
    error = ""
    timeout = settings.WEBHOOKS_TIMEOUT_SECONDS
    clock = time.monotonic()
    try:
        destination_check(endpoint.url)
        with checked_session() as session:
            response = session.post(
                endpoint.url,
                data=delivery.body.encode(),
                headers=headers,
                timeout=(timeout, timeout),
                allow_redirects=False,
                stream=True,
            )
            try:
                status_code = response.status_code
                # Read no more than the snippet: a receiver's body is not ours
                # to download.
                raw = response.raw.read(SNIPPET_BYTES, decode_content=True) or b""
                snippet = raw.decode("utf-8", errors="replace")
            finally:
                response.close()
    except DestinationRefused as exc:
        error = exc.message
    except requests.Timeout:
        error = f"No answer within {timeout} s."
    except requests.RequestException as exc:
        error = f"{type(exc).__name__}: {exc}"
    duration_ms = int((time.monotonic() - clock) * 1000)
    if status_code is not None and not 200 <= status_code < 300 and not error:
        error = f"HTTP {status_code}"
    return _Outcome(
        started_at=started_at,
        duration_ms=duration_ms,
        headers=headers,
        status_code=status_code,
        snippet=snippet,
        error=error[:255],
    )


def delivery_send(*, delivery_id: int) -> Delivery | None:
    """Make one attempt at a due delivery; return it, or None if not ours to send.

    Two workers given the same delivery (a send queued twice, a broker
    redelivery) cannot both send it: the claim goes to one.
    """
    worker = worker_id()
    now = timezone.now()
    claimed = claim(
        deliveries_due(now).filter(pk=delivery_id),
        worker=worker,
        lease=send_lease(),
        limit=1,
        now=now,
        status=D.SENDING,
    )
    if not claimed:
        return None
    delivery = Delivery.objects.select_related("endpoint").get(pk=claimed[0].pk)
    outcome = _post(delivery)
    return _record(delivery_id=delivery.pk, worker=worker, outcome=outcome)


@transaction.atomic
def _record(*, delivery_id: int, worker: str, outcome: _Outcome) -> Delivery:
    delivery = Delivery.objects.select_for_update().get(pk=delivery_id)
    number = delivery.attempts + 1
    DeliveryAttempt.objects.create(
        delivery=delivery,
        number=number,
        started_at=outcome.started_at,
        duration_ms=outcome.duration_ms,
        request_headers=outcome.headers,
        response_code=outcome.status_code,
        response_snippet=outcome.snippet,
        error=outcome.error,
        succeeded=outcome.ok,
    )
    if delivery.claimed_by != worker:
        # The lease lapsed and another worker took the delivery over: its
        # outcome decides the status.
        return delivery
    now = timezone.now()
    delivery.attempts = number
    delivery.last_attempt_at = outcome.started_at
    delivery.last_response_code = outcome.status_code
    delivery.last_error = outcome.error
    delivery.response_snippet = outcome.snippet
    fields = [
        "attempts",
        "last_attempt_at",
        "last_response_code",
        "last_error",
        "response_snippet",
        "next_attempt_at",
        *lease_release_fields(delivery),
    ]
    if outcome.ok:
        delivery.next_attempt_at = None
        DELIVERY_STATES.move(delivery, D.SUCCEEDED, also_update=fields)
        endpoint_delivery_succeeded(endpoint_id=delivery.endpoint_id)
        return delivery
    next_at = now + retry_delay(number)
    window_end = delivery.window_started_at + timedelta(
        hours=settings.WEBHOOKS_RETRY_WINDOW_HOURS
    )
    if number >= settings.WEBHOOKS_MAX_ATTEMPTS or next_at > window_end:
        delivery.next_attempt_at = None
        DELIVERY_STATES.move(delivery, D.DEAD, also_update=fields)
        endpoint_delivery_dead(endpoint_id=delivery.endpoint_id)
        return delivery
    delivery.next_attempt_at = next_at
    DELIVERY_STATES.move(delivery, D.FAILED, also_update=fields)
    return delivery
