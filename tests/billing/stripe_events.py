"""Deliver correctly signed Stripe events to dj-stripe's webhook view.

For tests that need an exact event (a redelivery, a re-ordering): the test
builds it from the object localstripe returned and posts it itself.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any


def webhook_endpoint():
    """dj-stripe's endpoint row (as stripe_dev_setup makes it), not registered
    with localstripe: the test delivers every event itself."""
    from django.conf import settings
    from django.urls import reverse
    from djstripe.enums import WebhookEndpointStatus
    from djstripe.models import WebhookEndpoint

    endpoint_uuid = uuid.uuid4()
    return WebhookEndpoint.objects.create(
        id=f"we_test_{endpoint_uuid.hex[:20]}",
        djstripe_uuid=endpoint_uuid,
        livemode=False,
        enabled_events=["*"],
        status=WebhookEndpointStatus.enabled,
        url="http://testserver"
        + reverse("djstripe:djstripe_webhook_by_uuid", kwargs={"uuid": endpoint_uuid}),
        secret=settings.STRIPE_WEBHOOK_SECRET,
        metadata={"djstripe_uuid": str(endpoint_uuid)},
    )


def event_body(
    event_type: str, obj: dict[str, Any], *, event_id: str | None = None
) -> str:
    return json.dumps(
        {
            "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
            "object": "event",
            "type": event_type,
            "livemode": False,
            "api_version": "2017-08-15",
            "created": int(time.time()),
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "data": {"object": obj},
        }
    )


def deliver(endpoint, body: str):
    """POST a correctly signed event to dj-stripe's webhook view."""
    from django.test import Client

    timestamp = int(time.time())
    signature = hmac.new(
        endpoint.secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256
    ).hexdigest()
    return Client().post(
        f"/stripe/webhook/{endpoint.djstripe_uuid}/",
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=f"t={timestamp},v1={signature}",
    )
