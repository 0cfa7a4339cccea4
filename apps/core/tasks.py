from celery import shared_task
from django.core import management

from apps.core.exceptions import TransientError


@shared_task(
    name="core.send_notification",
    autoretry_for=(TransientError,),
    retry_backoff=2,
    retry_backoff_max=600,
    retry_jitter=False,
    max_retries=6,
    acks_late=True,
)
def send_notification(notification_id: int) -> str:
    from apps.core.notifications import notification_deliver

    return notification_deliver(notification_id=notification_id).status


@shared_task(name="core.clear_expired_sessions")
def clear_expired_sessions() -> None:
    management.call_command("clearsessions")


@shared_task(name="core.purge_idempotency_records")
def purge_idempotency_records() -> int:
    from apps.core.idempotency import idempotency_records_purge

    return idempotency_records_purge()


@shared_task(name="core.requeue_stuck_notifications")
def requeue_stuck_notifications() -> int:
    """Re-queue mails whose task was lost (broker down at commit, worker died)."""
    from apps.core.notifications import notifications_requeue_stuck

    return notifications_requeue_stuck()


@shared_task(name="core.relay_outbox", acks_late=True)
def relay_outbox() -> int:
    """Publish committed outbox events (after each commit, and by beat)."""
    from apps.core.outbox import outbox_relay

    return outbox_relay()


@shared_task(name="core.retry_workflows", acks_late=True)
def retry_workflows() -> int:
    """Beat: run the handlers of failed steps whose next attempt is due."""
    from apps.core.workflows import workflows_retry_due

    return workflows_retry_due()


@shared_task(name="core.beat_heartbeat", ignore_result=True)
def beat_heartbeat() -> None:
    """Stamp beat's last tick; /readyz answers 503 when it grows stale."""
    from apps.core.heartbeat import beat_heartbeat_record

    beat_heartbeat_record()
