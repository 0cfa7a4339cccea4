"""Thin Celery adapters over inventory services."""

from celery import shared_task

from apps.core.exceptions import TransientError


@shared_task(name="inventory.expire_reservations", acks_late=True)
def expire_reservations() -> int:
    from apps.inventory.services import reservations_expire

    return reservations_expire()


@shared_task(
    name="inventory.send_back_in_stock_alerts",
    autoretry_for=(TransientError,),
    retry_backoff=True,
    max_retries=5,
    acks_late=True,
)
def send_back_in_stock_alerts(variant_id: int) -> int:
    from apps.inventory.services import back_in_stock_alerts_send

    return back_in_stock_alerts_send(variant_id=variant_id)
