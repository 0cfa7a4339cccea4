"""Thin task adapters over checkout services."""

from typing import cast

from celery import Task, shared_task

from apps.core.exceptions import TransientError


class FinalizePaymentTask(Task):
    """Leaves a workflow for beat to retry when the task's own retries run out."""

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        from apps.checkout.services import finalize_payment_failed

        intent_id, source, amount_minor, currency = _finalize_args(*args, **kwargs)
        finalize_payment_failed(
            intent_id=intent_id,
            error=f"{type(exc).__name__}: {exc}",
            # The first run and its retries.
            attempts=self.request.retries + 1,
            source=source,
            stripe_amount=(
                (amount_minor, cast(str, currency))
                if amount_minor is not None
                else None
            ),
        )


def _finalize_args(
    intent_id: str,
    source: str = "webhook",
    amount_minor: int | None = None,
    currency: str | None = None,
) -> tuple[str, str, int | None, str | None]:
    return intent_id, source, amount_minor, currency


@shared_task(
    base=FinalizePaymentTask,
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


# A finalisation whose task retries ran out is retried by core.retry_workflows
# (apps.checkout.workflows), with a longer backoff, until staff must look.


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
