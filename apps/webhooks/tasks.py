from celery import shared_task


@shared_task(name="webhooks.send_delivery", acks_late=True)
def send_delivery(delivery_id: int) -> str:
    """Make one attempt at a delivery (its retries are scheduled in the database)."""
    from apps.webhooks.services import delivery_send

    delivery = delivery_send(delivery_id=delivery_id)
    return delivery.status if delivery else "skipped"


@shared_task(name="webhooks.send_due_deliveries", acks_late=True)
def send_due_deliveries() -> int:
    """Beat: queue a send for every delivery whose next attempt is due."""
    from apps.webhooks.services import deliveries_enqueue_due

    return deliveries_enqueue_due()
