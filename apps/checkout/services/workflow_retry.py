"""Steps that exhausted their task retries, recorded as core workflows.

Beat retries them through the handlers in apps.checkout.workflows; staff see
the ones that keep failing in admin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from apps.billing import selectors as billing_selectors
from apps.core.workflows import workflow_fail

if TYPE_CHECKING:
    from apps.core.models import Workflow

FINALIZE_STEP = "order.finalize_payment"


def finalize_payment_failed(
    *,
    intent_id: str,
    error: str,
    attempts: int,
    source: str = "webhook",
    stripe_amount: tuple[int, str] | None = None,
) -> Workflow:
    """Record that finalising an intent's order exhausted its task retries.

    One unresolved workflow per intent: a later exhaustion (a redelivered
    task) adds its attempts to it. Beat retries it (apps.checkout.workflows).
    """
    payment = billing_selectors.payment_get_by_intent(intent_id=intent_id)
    payload: dict[str, Any] = {"intent_id": intent_id, "source": source}
    if payment is not None:
        payload["order_number"] = payment.reference
    if stripe_amount is not None:
        payload["amount_minor"], payload["currency"] = stripe_amount
    return workflow_fail(
        name=FINALIZE_STEP,
        reference=intent_id,
        error=error,
        attempts=attempts,
        payload=payload,
    )
