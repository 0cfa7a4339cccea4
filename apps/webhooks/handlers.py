"""The outbox receiver: every event may be a webhook to send."""

from apps.core.models import OutboxEvent
from apps.core.outbox import outbox_receiver
from apps.webhooks.services import deliveries_create_for_event


@outbox_receiver("*")
def webhook_deliveries(event: OutboxEvent) -> None:
    deliveries_create_for_event(event=event)
