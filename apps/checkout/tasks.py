"""Thin task adapters over checkout services."""

from typing import cast

from celery import shared_task

from apps.core.exceptions import TransientError


@shared_task(
    name="checkout.finalize_payment",
    autoretry_for=(TransientError,),
    retry_backoff=True,
    max_retries=5,
    acks_late=True,
)
def finalize_payment(
    intent_id: str,
    source: str = "webhook",
    amount_minor: int | None = None,
    currency: str | None = None,
) -> None:
    from apps.checkout.services import order_payment_succeeded

    order_payment_succeeded(
        intent_id=intent_id,
        source=source,
        # The webhook handler always queues the amount with its currency.
        stripe_amount=(
            (amount_minor, cast(str, currency)) if amount_minor is not None else None
        ),
    )


@shared_task(
    name="checkout.retry_failed_workflow",
    autoretry_for=(TransientError,),
    retry_backoff=True,
    max_retries=5,
    acks_late=True,
)
def retry_failed_workflow(workflow_id: int) -> None:
    from apps.checkout.services import failed_workflow_retry

    failed_workflow_retry(workflow_id=workflow_id)


@shared_task(
    name="checkout.finalize_stuck_payments",
    autoretry_for=(TransientError,),
    retry_backoff=True,
    max_retries=3,
    acks_late=True,
)
def finalize_stuck_payments() -> int:
    """Beat: finalise paid orders whose webhook task was lost."""
    from apps.checkout.services import orders_finalize_stuck

    return len(orders_finalize_stuck())


@shared_task(
    name="checkout.cancel_abandoned_orders",
    autoretry_for=(TransientError,),
    retry_backoff=True,
    max_retries=3,
    acks_late=True,
)
def cancel_abandoned_orders() -> int:
    """Beat: cancel orders left unpaid too long (finalising any that did pay)."""
    from apps.checkout.services import orders_cancel_abandoned

    return len(orders_cancel_abandoned())
