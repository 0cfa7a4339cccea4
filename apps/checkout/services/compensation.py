"""Saga compensation: refund a paid order that cannot be fulfilled, and apologise."""

from __future__ import annotations

from django.db import transaction

from apps.billing import selectors as billing_selectors
from apps.billing import services as billing_services
from apps.billing.exceptions import PaymentProviderError, TransientError
from apps.billing.gateway.types import IntentStatus
from apps.checkout.models import Order
from apps.checkout.services.customer_messages import order_apology_send
from apps.checkout.services.orders import _event
from apps.core.audit import audit_log
from apps.core.models import Workflow
from apps.core.workflows import workflow_fail, workflow_resolve

COMPENSATE_STEP = "order.compensate"


def order_compensate(
    *, order_id: int, reason: str, record_failure: bool = True
) -> Workflow | None:
    """Refund a cancelled order's card payment in full and apologise, once
    (saga step). Its store-credit hold was released when it was cancelled.

        On a Stripe failure an ``order.compensate`` workflow is left open for
        retry (apps.checkout.workflows); success resolves it. Its retry passes
        ``record_failure=False`` so the failure is raised to the workflow runner.
    """
    order = Order.objects.get(pk=order_id)
    payment = billing_selectors.payment_latest_for_reference(reference=order.number)
    if payment is None or payment.status != IntentStatus.SUCCEEDED:
        return None
    try:
        refund = billing_services.payment_refund(
            payment=payment,
            idempotency_key=f"auto-refund:{order.number}",
            reason=f"order {order.number} cannot be fulfilled",
        )
    except (TransientError, PaymentProviderError) as exc:
        if not record_failure:
            raise
        return workflow_fail(
            name=COMPENSATE_STEP,
            reference=order.number,
            error=f"{type(exc).__name__}: {exc}",
            payload={"reason": reason, "order_number": order.number},
        )
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        # A mismatched payment may exceed the order total: the order records
        # at most its total, the payment row keeps what Stripe refunded.
        refunded = min(refund.amount_minor, locked.total_minor)
        if locked.refunded_minor < refunded:
            locked.refunded_minor = refunded
            locked.save(update_fields=["refunded_minor", "updated_at"])
            _event(
                locked,
                kind="refund",
                source="system",
                message=f"Automatic full refund: {reason}"[:500],
                data={
                    "refund": refund.refund_id,
                    "amount": refund.amount_minor,
                    # Released with the cancellation (an order_release entry).
                    "credit_released": locked.credit_minor,
                },
            )
            audit_log(
                action="refund_processed",
                obj=locked,
                data={"refund": refund.refund_id, "automatic": True},
            )
            order_apology_send(locked, reason=reason)
        return workflow_resolve(name=COMPENSATE_STEP, reference=locked.number)
