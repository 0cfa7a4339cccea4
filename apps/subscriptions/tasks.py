from celery import shared_task

from apps.billing.exceptions import TransientError
from apps.subscriptions import services


@shared_task(
    name="subscriptions.push_plan",
    autoretry_for=(TransientError,),
    retry_backoff=True,
    max_retries=5,
    acks_late=True,
)
def push_plan(plan_id: int) -> None:
    services.plan_push(plan_id=plan_id)
