"""Outgoing webhooks: endpoints, deliveries from the outbox, sending."""

from apps.webhooks.services.deliveries import (
    deliveries_create_for_event,
    deliveries_enqueue_due,
    deliveries_resend_failed,
    delivery_resend,
)
from apps.webhooks.services.endpoints import (
    endpoint_create,
    endpoint_secret_rotate,
    endpoint_update,
)
from apps.webhooks.services.sending import delivery_send

__all__ = [
    "deliveries_create_for_event",
    "deliveries_enqueue_due",
    "deliveries_resend_failed",
    "delivery_resend",
    "delivery_send",
    "endpoint_create",
    "endpoint_secret_rotate",
    "endpoint_update",
]
