"""Retry handlers for checkout's failed steps (apps.core.workflows).

Each handler raises when the step failed again, so the runner counts the
attempt and backs off; returning means the step is done.
"""

from apps.checkout.models import Order
from apps.checkout.services import order_compensate, order_payment_succeeded
from apps.checkout.services.compensation import COMPENSATE_STEP
from apps.checkout.services.workflow_retry import FINALIZE_STEP
from apps.core.models import Workflow
from apps.core.workflows import workflow_handler


class StepNotDone(Exception):
    """The retried step ran but its order is still not where it should be."""


@workflow_handler(COMPENSATE_STEP)
def order_compensate_retry(workflow: Workflow) -> None:
    """Refund and apologise again for a cancelled order (reference: its number)."""
    order = Order.objects.filter(number=workflow.reference).first()
    if order is None:
        raise StepNotDone(f"No order {workflow.reference!r} to refund.")
    order_compensate(
        order_id=order.pk,
        reason=str(workflow.payload.get("reason", "")),
        record_failure=False,
    )


@workflow_handler(FINALIZE_STEP)
def order_finalize_retry(workflow: Workflow) -> None:
    """Finalise a paid intent's order again (reference: the intent id)."""
    payload = workflow.payload
    amount = payload.get("amount_minor")
    order = order_payment_succeeded(
        intent_id=workflow.reference,
        source="retry",
        stripe_amount=(int(amount), str(payload["currency"]))
        if amount is not None
        else None,
    )
    if order is not None and order.status == Order.Status.PENDING_PAYMENT:
        raise StepNotDone(f"Order {order.number} is still awaiting payment.")
