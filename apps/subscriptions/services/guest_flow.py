"""The guest subscribe saga: an email and a price, then one step at a time.

Payment comes first and is the visitor's (they confirm the subscription's
first invoice, as a signed-in subscriber does). What follows runs in Celery,
each step idempotent, recorded on the ``SubscribeFlow``:

    identity → subscription → licence → notification → done

A step marks itself done in the transaction that made its effect, so a rerun
(a redelivered task, a worker killed mid-step, an admin retry) skips what is
done and never makes a second user, subscription, key or email. A step that
keeps failing leaves a ``core.Workflow`` row that retries the flow from that
step. A flow that cannot be honoured (the plan was archived meanwhile, the
account already has a live subscription) is compensated: the Stripe
subscription is cancelled, the payment refunded in full, any key revoked,
the visitor told why, and the flow ends ``failed``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from apps.billing import gateway
from apps.billing.gateway import subscriptions as gw
from apps.core.outbox import outbox_publish
from apps.core.workflows import workflow_fail, workflow_resolve
from apps.subscriptions.exceptions import (
    PlanPrivate,
    PriceInactive,
    PriceNotFound,
    SubscribeFlowNotFound,
)
from apps.subscriptions.licence_models import SUBSCRIBE_FLOW_STATES, SubscribeFlow
from apps.subscriptions.models import Plan, PlanPrice, SubscriptionStatus

if TYPE_CHECKING:
    import uuid

logger = logging.getLogger(__name__)

WORKFLOW_NAME = "subscriptions.subscribe_flow"
Step = SubscribeFlow.Step
FS = SubscribeFlow.Status
PAID = {SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING}
PAYMENT_DEAD = {SubscriptionStatus.INCOMPLETE_EXPIRED, SubscriptionStatus.CANCELED}


class FlowCannotComplete(Exception):
    """A step found the purchase cannot be honoured: compensate, don't retry."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class GuestStart:
    flow: SubscribeFlow
    client_secret: str
    kind: str


def _price_for_guest(price_id: int) -> PlanPrice:
    price = PlanPrice.objects.select_related("plan").filter(pk=price_id).first()
    if price is None:
        raise PriceNotFound(price_id)
    if (
        not price.active
        or price.plan.status != Plan.Status.ACTIVE
        or not price.stripe_price_id
    ):
        raise PriceInactive(price_id)
    if price.plan.visibility == Plan.Visibility.PRIVATE:
        raise PlanPrivate(price.plan.slug)
    return price


def subscribe_flow_start(*, email: str, price_id: int) -> GuestStart:
    """Start a guest purchase; the visitor confirms the returned secret.

    Nothing here looks at accounts: the answer is the same whether the email
    has one or not. Raise PriceNotFound, PriceInactive, PlanPrivate, or a
    payment provider error (the flow then ends failed).
    """
    price = _price_for_guest(price_id)
    flow = SubscribeFlow(email=email.strip().lower(), price=price)
    flow.full_clean()
    flow.save()
    token = str(flow.token)
    try:
        customer = gateway.customer_create(
            email=flow.email,
            metadata={"subscribe_flow": token},
            idempotency_key=f"subscribe-flow-customer-{token}",
        )
        snap = gw.subscription_create(
            customer_id=customer.id,
            price_id=price.stripe_price_id,
            trial_days=price.plan.trial_days,
            metadata={"subscribe_flow": token},
            idempotency_key=f"subscribe-flow-{token}",
        )
    except Exception as exc:
        _fail(flow.pk, reason="payment_setup_failed", error=str(exc))
        raise
    flow.stripe_customer_id = customer.id
    flow.stripe_subscription_id = snap.id
    # Stripe names the first invoice's intent only while it is unpaid: keep
    # it now, the refund needs it later. A trial has none (nothing charged).
    flow.steps = {
        Step.PAYMENT: {"status": "pending", "payment_intent": snap.payment_intent_id}
    }
    flow.save(
        update_fields=[
            "stripe_customer_id",
            "stripe_subscription_id",
            "steps",
            "updated_at",
        ]
    )
    return GuestStart(flow, snap.client_secret, snap.secret_kind)


def subscribe_flow_get(*, token: uuid.UUID | str) -> SubscribeFlow:
    flow = SubscribeFlow.objects.select_related("price__plan").filter(token=token)
    found = flow.first()
    if found is None:
        raise SubscribeFlowNotFound()
    return found


def _enqueue_advance(flow_id: int) -> None:
    from apps.subscriptions.tasks import subscribe_flow_advance as task

    transaction.on_commit(lambda: task.delay(flow_id), robust=True)


def subscribe_flow_payment_check(*, token: uuid.UUID | str) -> SubscribeFlow:
    """Ask Stripe whether the visitor paid; once paid, start the saga.

    Called by the return page, the API and the Stripe webhook: whichever is
    first moves the flow, the others find nothing to do.
    """
    flow = subscribe_flow_get(token=token)
    if flow.status != FS.AWAITING_PAYMENT or not flow.stripe_subscription_id:
        return flow
    snap = gw.subscription_retrieve(subscription_id=flow.stripe_subscription_id)
    if snap.status in PAYMENT_DEAD:
        _fail(flow.pk, reason="payment_failed", error=f"stripe: {snap.status}")
    elif snap.status in PAID:
        with transaction.atomic():
            flow = SubscribeFlow.objects.select_for_update().get(pk=flow.pk)
            if flow.status == FS.AWAITING_PAYMENT:
                intent = flow.steps.get(Step.PAYMENT, {}).get("payment_intent", "")
                _mark_step(flow, Step.PAYMENT, payment_intent=intent)
                flow.current_step = Step.IDENTITY
                SUBSCRIBE_FLOW_STATES.move(
                    flow, FS.PROCESSING, also_update=["steps", "current_step"]
                )
                _enqueue_advance(flow.pk)
    flow.refresh_from_db()
    return flow


def subscribe_flow_payment_event(*, stripe_subscription_id: str) -> None:
    """The webhook path of the payment check (ids only; Stripe is re-read)."""
    token = (
        SubscribeFlow.objects.filter(
            stripe_subscription_id=stripe_subscription_id,
            status=FS.AWAITING_PAYMENT,
        )
        .values_list("token", flat=True)
        .first()
    )
    if token is not None:
        subscribe_flow_payment_check(token=token)


# A visitor who paid and closed the tab, with the webhook lost (localstripe
# sends none for subscriptions): beat asks Stripe after this long. Stripe
# expires an unpaid first invoice after about a day, which fails the flow.
UNCONFIRMED_AFTER = timedelta(minutes=5)
UNCONFIRMED_UNTIL = timedelta(days=2)


def subscribe_flows_check_unconfirmed(*, now: datetime | None = None) -> int:
    """Run the payment check for flows still awaiting payment; return how many.

    A flow whose check fails (Stripe unreachable) is left for the next run.
    """
    now = now or timezone.now()
    tokens = list(
        SubscribeFlow.objects.filter(
            status=FS.AWAITING_PAYMENT,
            created_at__lte=now - UNCONFIRMED_AFTER,
            created_at__gte=now - UNCONFIRMED_UNTIL,
        )
        .exclude(stripe_subscription_id="")
        .order_by("pk")
        .values_list("token", flat=True)[:200]
    )
    for token in tokens:
        try:
            subscribe_flow_payment_check(token=token)
        except Exception:
            logger.warning("payment check of flow %s failed", token, exc_info=True)
    return len(tokens)


def _mark_step(flow: SubscribeFlow, step: str, **made: Any) -> None:
    flow.steps = {
        **flow.steps,
        step: {"status": "done", "at": timezone.now().isoformat(), **made},
    }


def subscribe_flow_advance(*, flow_id: int) -> SubscribeFlow:
    """Run the flow's remaining steps from its current one.

    Return the flow (completed, or failed after compensation); raise the
    error of a step that failed, recorded on the flow, for the caller to
    retry.
    """
    from apps.subscriptions.services import guest_steps

    while True:
        flow = SubscribeFlow.objects.select_related("price__plan").get(pk=flow_id)
        if flow.status != FS.PROCESSING:
            return flow
        step = flow.current_step
        try:
            guest_steps.run(flow, step)
        except FlowCannotComplete as exc:
            try:
                subscribe_flow_compensate(
                    flow_id=flow_id, reason=exc.reason, why=exc.message
                )
            except Exception as undo:
                # Retried like a step: every undo call is keyed, so it is safe.
                _record_error(
                    flow_id, step, f"compensation: {type(undo).__name__}: {undo}"
                )
                raise
            return SubscribeFlow.objects.get(pk=flow_id)
        except Exception as exc:
            _record_error(flow_id, step, f"{type(exc).__name__}: {exc}")
            raise


def _record_error(flow_id: int, step: str, error: str) -> None:
    with transaction.atomic():
        flow = SubscribeFlow.objects.select_for_update().get(pk=flow_id)
        flow.retry_count += 1
        flow.last_error = error[:5000]
        flow.steps = {
            **flow.steps,
            step: {"status": "failed", "at": timezone.now().isoformat()},
        }
        flow.save(update_fields=["retry_count", "last_error", "steps", "updated_at"])


def subscribe_flow_give_up(*, flow_id: int, error: str) -> None:
    """The task's retries ran out: leave a Workflow row that retries the flow."""
    flow = SubscribeFlow.objects.get(pk=flow_id)
    workflow_fail(
        name=WORKFLOW_NAME,
        reference=str(flow.token),
        error=f"step {flow.current_step}: {error}",
        payload={"flow": flow.pk, "step": flow.current_step},
    )


def subscribe_flow_complete(*, flow_id: int) -> None:
    with transaction.atomic():
        flow = SubscribeFlow.objects.select_for_update().get(pk=flow_id)
        flow.current_step = Step.DONE
        moved = SUBSCRIBE_FLOW_STATES.move(
            flow, FS.COMPLETED, also_update=["current_step"]
        )
        if moved:
            outbox_publish(
                topic="subscribe_flow.completed",
                payload=_payload(flow),
                aggregate_type="subscribe_flow",
                aggregate_id=str(flow.token),
            )
    workflow_resolve(name=WORKFLOW_NAME, reference=str(flow.token))


def _payload(flow: SubscribeFlow, **extra: object) -> dict[str, object]:
    return {
        "flow": str(flow.token),
        "price": flow.price_id,
        "user": flow.user_id,
        "subscription": flow.subscription_id,
        "licence": flow.licence_id,
        "status": flow.status,
        **extra,
    }


def _fail(flow_id: int, *, reason: str, error: str) -> None:
    with transaction.atomic():
        flow = SubscribeFlow.objects.select_for_update().get(pk=flow_id)
        flow.failure_reason = reason
        flow.last_error = error[:5000]
        moved = SUBSCRIBE_FLOW_STATES.move(
            flow, FS.FAILED, also_update=["failure_reason", "last_error"]
        )
        if moved:
            outbox_publish(
                topic="subscribe_flow.failed",
                payload=_payload(flow, reason=reason, step=flow.current_step),
                aggregate_type="subscribe_flow",
                aggregate_id=str(flow.token),
            )


def subscribe_flow_compensate(*, flow_id: int, reason: str, why: str) -> None:
    """Undo a paid purchase that cannot be honoured, then end it failed.

    Each call to Stripe carries a key naming this flow, so a compensation
    interrupted and run again refunds once.
    """
    from apps.subscriptions.services import guest_steps

    flow = SubscribeFlow.objects.select_related("price__plan").get(pk=flow_id)
    guest_steps.undo_payment(flow)
    guest_steps.email_failure(flow, why=why)
    _fail(flow_id, reason=reason, error=why)
    workflow_resolve(name=WORKFLOW_NAME, reference=str(flow.token))
