"""Opening, recovering and closing dunning cases, and what staff do to them."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.outbox import outbox_publish
from apps.core.queue import enqueue_on_commit
from apps.dunning.exceptions import CaseNotOpen
from apps.dunning.models import (
    ACTION_STATES,
    CASE_STATES,
    DunningAction,
    DunningCase,
    DunningPolicy,
)
from apps.dunning.services.policy import policy_default
from apps.subscriptions.models import Invoice
from apps.subscriptions.services import invoice_sync, subscription_grace_set

logger = logging.getLogger(__name__)

K = DunningAction.Kind
Case = DunningCase.Status


def _publish(case: DunningCase, topic: str) -> None:
    """Record dunning.opened / .recovered / .exhausted / .cancelled (same tx)."""
    outbox_publish(
        topic=topic,
        payload={
            "case": case.pk,
            "subscription": case.subscription_id,
            "invoice": case.invoice_id,
            "status": case.status,
            "failed_at": case.failed_at.isoformat(),
            "grace_until": case.grace_until.isoformat(),
            "close_reason": case.close_reason,
        },
        aggregate_type="dunning_case",
        aggregate_id=case.pk,
    )


def _run_soon() -> None:
    """Run due actions once the transaction commits (beat would, within 5 min)."""
    from apps.dunning.tasks import run_due_actions

    enqueue_on_commit(run_due_actions)


def _schedule(case: DunningCase, policy: DunningPolicy) -> list[DunningAction]:
    start = case.failed_at

    def day(n: int) -> datetime:
        return start + timedelta(days=n)

    rows = [DunningAction(case=case, kind=K.EMAIL, detail="failed", due_at=start)]
    for attempt, offset in enumerate(policy.retry_offsets_days, start=1):
        rows.append(
            DunningAction(
                case=case,
                kind=K.RETRY,
                detail="schedule",
                attempt=attempt,
                due_at=day(offset),
                idempotency_key=f"dunning-{case.pk}-retry-{attempt}",
            )
        )
    if policy.reminder_day is not None:
        rows.append(
            DunningAction(
                case=case,
                kind=K.EMAIL,
                detail="reminder",
                due_at=day(policy.reminder_day),
            )
        )
    if policy.final_notice_day is not None:
        rows.append(
            DunningAction(
                case=case,
                kind=K.EMAIL,
                detail="final_notice",
                due_at=day(policy.final_notice_day),
            )
        )
    rows.append(DunningAction(case=case, kind=K.GRACE_END, due_at=case.grace_until))
    rows.append(
        DunningAction(
            case=case,
            kind=K.FINAL,
            detail=policy.final_action,
            due_at=day(policy.final_action_day),
            idempotency_key=f"dunning-{case.pk}-final",
        )
    )
    return DunningAction.objects.bulk_create(rows)


def case_open(
    *, invoice_id: int, failed_at: datetime | None = None
) -> DunningCase | None:
    """Open the case of a failed renewal invoice and lay out its schedule.

    Idempotent: the invoice's open case is returned as it is. None when the
    invoice is no subscription's, is not open, or had a case that closed
    (a written-off or exhausted invoice is not chased again).
    """
    invoice = Invoice.objects.filter(pk=invoice_id).first()
    if (
        invoice is None
        or invoice.subscription_id is None
        or invoice.status != Invoice.Status.OPEN
    ):
        return None
    existing = DunningCase.objects.filter(invoice_id=invoice_id).order_by("-pk").first()
    if existing is not None:
        return existing if existing.status == Case.OPEN else None
    policy = policy_default()
    failed_at = failed_at or timezone.now()
    try:
        with transaction.atomic():
            case = DunningCase.objects.create(
                subscription_id=invoice.subscription_id,
                invoice=invoice,
                policy=policy,
                failed_at=failed_at,
                grace_until=failed_at + timedelta(days=policy.grace_days),
            )
            _schedule(case, policy)
            _publish(case, "dunning.opened")
            subscription_grace_set(
                subscription_id=invoice.subscription_id,
                until=case.grace_until,
                reason="dunning_grace",
            )
            _run_soon()
    except IntegrityError:  # opened meanwhile for the same invoice
        return DunningCase.objects.filter(
            invoice_id=invoice_id, status=Case.OPEN
        ).first()
    logger.info("dunning case %s opened for invoice %s", case.pk, invoice.stripe_id)
    return case


def _close(case: DunningCase, to: str, reason: str) -> bool:
    """Move a locked case to ``to`` and cancel what was still scheduled."""
    case.close_reason = reason
    moved = CASE_STATES.move(case, to, also_update=["close_reason"])
    if moved:
        _publish(case, f"dunning.{to}")
        ACTION_STATES.move_many(
            DunningAction.objects.filter(
                case=case, status=DunningAction.Status.SCHEDULED
            ),
            DunningAction.Status.CANCELLED,
        )
    return moved


def case_recover(*, case_id: int, reason: str) -> DunningCase:
    """Close the case recovered: access back, grace cleared, a thank-you email.

    A no-op for a case already closed (the retry and the invoice webhook both
    report the same payment).
    """
    with transaction.atomic():
        case = DunningCase.objects.select_for_update().get(pk=case_id)
        if case.status != Case.OPEN:
            return case
        _close(case, Case.RECOVERED, reason)
        subscription_grace_set(
            subscription_id=case.subscription_id, until=None, reason="dunning_recovered"
        )
        DunningAction.objects.create(
            case=case, kind=K.EMAIL, detail="recovered", due_at=timezone.now()
        )
        _run_soon()
    logger.info("dunning case %s recovered (%s)", case.pk, reason)
    return case


def case_recover_for_invoice(*, invoice_id: int, reason: str) -> DunningCase | None:
    case = DunningCase.objects.filter(invoice_id=invoice_id, status=Case.OPEN).first()
    if case is None:
        return None
    return case_recover(case_id=case.pk, reason=reason)


def _open_locked(case_id: int) -> DunningCase:
    case = DunningCase.objects.select_for_update().get(pk=case_id)
    if case.status != Case.OPEN:
        raise CaseNotOpen(f"Case #{case.pk} is {case.status}.")
    return case


def case_retry_now(*, case_id: int, reason: str) -> DunningAction:
    """Charge the invoice again at once (a new card, or staff asked).

    The customer's answer clears what the case was waiting for, so the rest
    of the schedule runs again. Raise CaseNotOpen for a closed case.
    """
    with transaction.atomic():
        case = _open_locked(case_id)
        if case.awaiting_customer:
            case.awaiting_customer = ""
            case.save(update_fields=["awaiting_customer", "updated_at"])
        attempt = DunningAction.objects.filter(case=case, kind=K.RETRY).count() + 1
        action = DunningAction.objects.create(
            case=case,
            kind=K.RETRY,
            detail=reason[:30],
            attempt=attempt,
            due_at=timezone.now(),
            idempotency_key=f"dunning-{case.pk}-retry-{attempt}-{reason}"[:100],
        )
        _run_soon()
    return action


def case_pause(*, case_id: int) -> DunningCase:
    """Hold the schedule: due actions wait until the case is resumed."""
    with transaction.atomic():
        case = _open_locked(case_id)
        if case.paused_at is None:
            case.paused_at = timezone.now()
            case.save(update_fields=["paused_at", "updated_at"])
    return case


def case_resume(*, case_id: int) -> DunningCase:
    """Let the schedule run again; actions that fell due meanwhile run next beat."""
    with transaction.atomic():
        case = _open_locked(case_id)
        if case.paused_at is not None:
            case.paused_at = None
            case.save(update_fields=["paused_at", "updated_at"])
    return case


def case_write_off(*, case_id: int, reason: str = "written_off") -> DunningCase:
    """Stop chasing the invoice: the case closes cancelled, nothing more runs.

    The subscription is left as Stripe has it. Raise CaseNotOpen for a closed
    case.
    """
    with transaction.atomic():
        case = _open_locked(case_id)
        _close(case, Case.CANCELLED, reason[:50])
    return case


def case_payment_check(*, case_id: int, reason: str = "customer_link") -> DunningCase:
    """Read the invoice back from Stripe; recover the case when it is paid.

    Called when the customer comes back from completing 3-D Secure on the
    case's page; the invoice webhook would report the same a little later.
    """
    case = DunningCase.objects.select_related("invoice").get(pk=case_id)
    invoice = invoice_sync(stripe_id=case.invoice.stripe_id)
    if invoice is not None and invoice.status == Invoice.Status.PAID:
        return case_recover(case_id=case.pk, reason=reason)
    return case
