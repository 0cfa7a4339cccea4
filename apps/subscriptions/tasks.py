from celery import shared_task

from apps.billing.exceptions import TransientError
from apps.subscriptions import services
from apps.subscriptions.services import reminders
from apps.subscriptions.usage.overage import usage_overage_push_due
from apps.subscriptions.usage.prune import usage_prune


@shared_task(
    name="subscriptions.push_plan",
    autoretry_for=(TransientError,),
    retry_backoff=True,
    max_retries=5,
    acks_late=True,
)
def push_plan(plan_id: int) -> None:
    services.plan_push(plan_id=plan_id)


@shared_task(
    name="subscriptions.apply_scheduled_changes",
    autoretry_for=(TransientError,),
    retry_backoff=True,
    max_retries=5,
    acks_late=True,
)
def apply_scheduled_changes() -> int:
    return services.scheduled_changes_apply_due()


@shared_task(name="subscriptions.billing_reconcile", acks_late=True)
def billing_reconcile() -> dict[str, int]:
    counts = services.reconcile.billing_reconcile()
    return {"checked": counts.checked, "fixed": counts.fixed, "failed": counts.failed}


@shared_task(name="subscriptions.licences_follow_grace_expiry", acks_late=True)
def licences_follow_grace_expiry() -> int:
    from apps.subscriptions.services.licences import licences_follow_grace_expiry

    return licences_follow_grace_expiry()


# Short, growing waits between tries of a saga step; past them the flow waits
# in a core.Workflow row (beat and the admin retry it from the failed step).
SUBSCRIBE_FLOW_RETRIES = 3


@shared_task(
    bind=True,
    name="subscriptions.subscribe_flow_advance",
    acks_late=True,
    max_retries=SUBSCRIBE_FLOW_RETRIES,
)
def subscribe_flow_advance(self, flow_id: int) -> str:
    from apps.subscriptions.services import guest_flow

    try:
        return guest_flow.subscribe_flow_advance(flow_id=flow_id).status
    except Exception as exc:
        if self.request.retries < self.max_retries:
            raise self.retry(exc=exc, countdown=5 * 2**self.request.retries) from exc
        guest_flow.subscribe_flow_give_up(
            flow_id=flow_id, error=f"{type(exc).__name__}: {exc}"
        )
        return "failed_step"


@shared_task(name="subscriptions.subscribe_flows_check_unconfirmed", acks_late=True)
def subscribe_flows_check_unconfirmed() -> int:
    from apps.subscriptions.services import guest_flow

    return guest_flow.subscribe_flows_check_unconfirmed()


@shared_task(name="subscriptions.prune_usage", acks_late=True)
def prune_usage() -> int:
    return usage_prune()


@shared_task(
    name="subscriptions.push_usage_overage",
    autoretry_for=(TransientError,),
    retry_backoff=True,
    max_retries=5,
    acks_late=True,
)
def push_usage_overage() -> int:
    return usage_overage_push_due()


@shared_task(name="subscriptions.send_trial_reminders", acks_late=True)
def send_trial_reminders() -> int:
    return reminders.trial_ending_reminders_send()
