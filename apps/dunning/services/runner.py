"""Beat's side: reap lapsed leases, claim due actions, run each once.

A claim (``apps.core.claims``) commits at once, so no row lock is held during
the Stripe call; another claimant skips leased rows. A worker that dies
mid-action leaves its lease to lapse; the reaper puts the row back on the
schedule and the next run sends the same idempotency key, so Stripe answers
with the first charge's result instead of charging again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from apps.core.claims import claim, lease_release_fields, worker_id
from apps.dunning.models import ACTION_STATES, DunningAction, DunningCase

logger = logging.getLogger(__name__)

A = DunningAction.Status
# Longer than a Stripe call with the client's retries plus an invoice sync.
LEASE = timedelta(minutes=5)
BATCH = 20


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str
    result: str = ""
    decline_code: str = ""
    # With status "scheduled": try again at this time (Stripe unreachable).
    retry_at: datetime | None = None


def actions_due(now: datetime) -> QuerySet[DunningAction]:
    # A subquery, not a join: FOR UPDATE then locks action rows only.
    runnable = DunningCase.objects.filter(paused_at__isnull=True).values("pk")
    return DunningAction.objects.filter(
        status=A.SCHEDULED, due_at__lte=now, case_id__in=runnable
    )


def actions_reap(*, now: datetime | None = None) -> int:
    """Put running actions whose lease lapsed back on the schedule; count them."""
    now = now or timezone.now()
    return ACTION_STATES.move_many(
        DunningAction.objects.filter(status=A.RUNNING, lease_expires_at__lte=now),
        A.SCHEDULED,
        claimed_by="",
        lease_expires_at=None,
    )


def action_finish(action: DunningAction, outcome: Outcome) -> bool:
    """Record the outcome unless the lease was lost to the reaper meanwhile."""
    with transaction.atomic():
        row = DunningAction.objects.select_for_update().get(pk=action.pk)
        if row.status != A.RUNNING or row.claimed_by != action.claimed_by:
            logger.warning("dunning action %s: lease lost, outcome dropped", row.pk)
            return False
        row.result = outcome.result[:2000]
        row.decline_code = outcome.decline_code[:50]
        fields = [*lease_release_fields(row), "result", "decline_code"]
        if outcome.retry_at is not None:
            row.due_at = outcome.retry_at
            fields.append("due_at")
        ACTION_STATES.move(row, outcome.status, also_update=fields)
    return True


def actions_run_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Reap, then claim and run due actions in batches; return how many ran."""
    from apps.dunning.services.steps import action_execute

    now = now or timezone.now()
    actions_reap(now=now)
    worker = worker_id()
    ran = 0
    while ran < limit:
        batch = claim(
            actions_due(now),
            worker=worker,
            lease=LEASE,
            limit=min(BATCH, limit - ran),
            now=now,
            status=A.RUNNING,
            runs=F("runs") + 1,
            updated_at=now,
        )
        if not batch:
            break
        for action in batch:
            try:
                outcome = action_execute(action)
            except Exception as exc:
                # Never leave a claimed row to the reaper for an ordinary bug:
                # record it and let staff retry from admin.
                logger.exception("dunning action %s failed", action.pk)
                outcome = Outcome(A.FAILED, f"{type(exc).__name__}: {exc}")
            action_finish(action, outcome)
            ran += 1
    return ran
