"""What each kind of scheduled action does (a retry, an email, the grace end,
the final action). Each returns an Outcome; the runner records it."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from apps.billing.exceptions import (
    AuthenticationRequired,
    PaymentDeclined,
    PaymentProviderError,
    TransientError,
)
from apps.billing.gateway import invoices as gw_invoices
from apps.core.exceptions import ApplicationError
from apps.dunning.declines import DO_NOT_HONOR, DeclineClass, decline_class
from apps.dunning.models import DunningAction, DunningCase, DunningPolicy
from apps.dunning.services import cases
from apps.dunning.services.emails import case_email_send
from apps.dunning.services.runner import Outcome
from apps.subscriptions.exceptions import SubscriptionNotCancellable
from apps.subscriptions.services import invoice_sync, subscription_cancel
from apps.subscriptions.services.effects import access_may_have_changed

logger = logging.getLogger(__name__)

A = DunningAction.Status
K = DunningAction.Kind
Case = DunningCase.Status
# Stripe unreachable: the same attempt (same key) is tried again this much later.
TRANSIENT_DELAY = timedelta(minutes=10)


def _load(action: DunningAction) -> DunningCase:
    return DunningCase.objects.select_related(
        "subscription__user", "subscription__price__plan", "invoice", "policy"
    ).get(pk=action.case_id)


def action_execute(action: DunningAction) -> Outcome:
    case = _load(action)
    if action.kind == K.EMAIL and action.detail == "recovered":
        if case.status != Case.RECOVERED:
            return Outcome(A.SKIPPED, f"case is {case.status}")
        case_email_send(case=case, kind="recovered")
        return Outcome(A.SUCCEEDED, "thank-you email queued")
    if case.status != Case.OPEN:
        return Outcome(A.SKIPPED, f"case is {case.status}")
    if action.kind == K.RETRY:
        return _retry(case, action)
    if action.kind == K.EMAIL:
        case_email_send(case=case, kind=action.detail)
        return Outcome(A.SUCCEEDED, f"{action.detail} email queued")
    if action.kind == K.GRACE_END:
        return _grace_end(case)
    return _final(case, action)


def _sync(case: DunningCase) -> None:
    """Read the invoice and subscription back from Stripe (past_due, active)."""
    try:
        invoice_sync(stripe_id=case.invoice.stripe_id)
    except (ApplicationError, TransientError) as exc:
        logger.warning("dunning case %s: invoice sync failed: %s", case.pk, exc)


def _await_customer(case: DunningCase, *, what: str, code: str, email: str) -> None:
    with transaction.atomic():
        locked = DunningCase.objects.select_for_update().get(pk=case.pk)
        locked.awaiting_customer = what
        locked.last_decline_code = code
        locked.save(
            update_fields=["awaiting_customer", "last_decline_code", "updated_at"]
        )
        case_email_send(case=case, kind=email)


def _note_decline(case: DunningCase, code: str) -> int:
    """Store the decline code; return the case's do_not_honor count so far."""
    with transaction.atomic():
        locked = DunningCase.objects.select_for_update().get(pk=case.pk)
        locked.last_decline_code = code
        fields = ["last_decline_code", "updated_at"]
        if code == DO_NOT_HONOR:
            locked.do_not_honor_count += 1
            fields.append("do_not_honor_count")
        locked.save(update_fields=fields)
    return locked.do_not_honor_count


def _retry(case: DunningCase, action: DunningAction) -> Outcome:
    if case.awaiting_customer and action.detail == "schedule":
        # Charging a dead card again, or one that needs the customer's
        # 3-D Secure, off-session, only fails again.
        return Outcome(
            A.SKIPPED, f"waiting for the customer ({case.awaiting_customer})"
        )
    try:
        gw_invoices.invoice_pay(
            invoice_id=case.invoice.stripe_id, idempotency_key=action.idempotency_key
        )
    except TransientError as exc:
        return Outcome(A.SCHEDULED, str(exc), retry_at=timezone.now() + TRANSIENT_DELAY)
    except AuthenticationRequired as exc:
        _await_customer(
            case,
            what="authentication",
            code="authentication_required",
            email="authenticate",
        )
        _sync(case)
        return Outcome(A.FAILED, exc.message, decline_code="authentication_required")
    except PaymentDeclined as exc:
        code = str((exc.details or {}).get("decline_code") or "card_declined")
        policy: DunningPolicy = case.policy
        seen = _note_decline(case, code)
        kind = decline_class(
            code, do_not_honor_seen=seen, do_not_honor_limit=policy.do_not_honor_limit
        )
        if kind == DeclineClass.HARD:
            _await_customer(case, what="card_update", code=code, email="update_card")
        _sync(case)
        return Outcome(A.FAILED, f"{kind} decline: {exc.message}", decline_code=code)
    except PaymentProviderError as exc:
        _sync(case)
        return Outcome(A.FAILED, exc.message)
    # Recover before the read-back: the sync's own "invoice paid" signal
    # would otherwise close the case first, under a vaguer reason.
    cases.case_recover(case_id=case.pk, reason=f"retry:{action.detail}")
    _sync(case)
    return Outcome(A.SUCCEEDED, "paid")


def _grace_end(case: DunningCase) -> Outcome:
    # Nothing changes in the row: time did. Entitlements and licences hear
    # it and re-read Subscription.grants_access, which is now false.
    with transaction.atomic():
        access_may_have_changed(case.subscription, "dunning_grace_ended")
    return Outcome(A.SUCCEEDED, "access withdrawn until the invoice is paid")


def _final(case: DunningCase, action: DunningAction) -> Outcome:
    pending = DunningAction.objects.filter(
        case=case, kind=K.RETRY, status__in=[A.SCHEDULED, A.RUNNING]
    ).exclude(pk=action.pk)
    if pending.filter(due_at__lte=timezone.now()).exists():
        return Outcome(
            A.SCHEDULED,
            "a retry is still running",
            retry_at=timezone.now() + timedelta(hours=1),
        )
    sub = case.subscription
    if case.policy.final_action == "mark_uncollectible":
        try:
            gw_invoices.invoice_mark_uncollectible(
                invoice_id=case.invoice.stripe_id,
                idempotency_key=action.idempotency_key,
            )
        except TransientError as exc:
            return Outcome(
                A.SCHEDULED, str(exc), retry_at=timezone.now() + TRANSIENT_DELAY
            )
        result = "invoice marked uncollectible; subscription left unpaid"
        _sync(case)
    else:
        try:
            subscription_cancel(
                user=sub.user, subscription_id=sub.pk, at_period_end=False
            )
        except SubscriptionNotCancellable as exc:
            result = f"already ended: {exc.message}"
        except TransientError as exc:
            return Outcome(
                A.SCHEDULED, str(exc), retry_at=timezone.now() + TRANSIENT_DELAY
            )
        else:
            result = "subscription cancelled"
    with transaction.atomic():
        locked = DunningCase.objects.select_for_update().get(pk=case.pk)
        if locked.status == Case.OPEN:
            cases._close(locked, Case.EXHAUSTED, case.policy.final_action)
    return Outcome(A.SUCCEEDED, result)
