"""Failed steps retried later: a registry of handlers and one beat sweep.

An app registers what retries a step with ``@workflow_handler("order.compensate")``
(in a module its ``AppConfig.ready`` imports) and records a failure with
``workflow_fail``. The beat task ``core.retry_workflows`` claims due rows with
a lease (``apps.core.claims``) and runs their handlers outside any
transaction. A handler that returns has done the step; one that raises has
failed it: the row's attempts grow, its next attempt backs off, and past the
handler's limit it waits for staff (admin "Retry now").
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.core.claims import claim, lease_release_fields, worker_id
from apps.core.models import WORKFLOW_TRANSITIONS, Workflow
from apps.core.state import StateMachine

logger = logging.getLogger(__name__)

ST = Workflow.Status
WORKFLOW_MACHINE: StateMachine[Workflow] = StateMachine(
    model=Workflow,
    field="status",
    transitions=WORKFLOW_TRANSITIONS,
    name="workflow",
    stamps={ST.RESOLVED: "resolved_at"},
)

DEFAULT_MAX_ATTEMPTS = 10
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=6)
# Longer than any handler runs (a Stripe call with its timeouts), so a live
# run is never taken over; a dead worker's row is retried after it.
WORKFLOW_LEASE = timedelta(minutes=10)
ERROR_MAX_CHARS = 5000

Handler = Callable[[Workflow], None]


@dataclass(frozen=True)
class WorkflowHandler:
    name: str
    run: Handler
    max_attempts: int


_handlers: dict[str, WorkflowHandler] = {}


def workflow_handler(
    name: str, *, max_attempts: int = DEFAULT_MAX_ATTEMPTS
) -> Callable[[Handler], Handler]:
    """Register the function that retries workflows called ``name``.

    Raise ValueError when another function already handles ``name``: two
    handlers for one step would make which one runs an accident of imports.
    """

    def register(func: Handler) -> Handler:
        existing = _handlers.get(name)
        if existing is not None and existing.run is not func:
            raise ValueError(f"workflow {name!r} already has a handler")
        _handlers[name] = WorkflowHandler(name, func, max_attempts)
        return func

    return register


def workflow_handler_get(name: str) -> WorkflowHandler | None:
    return _handlers.get(name)


def workflow_backoff(attempts: int) -> timedelta:
    """Return the wait before the next try after ``attempts`` failed ones."""
    exponent = max(attempts - 1, 0)
    # Capped before multiplying so a large count cannot overflow timedelta.
    if exponent >= 20:
        return BACKOFF_MAX
    return min(BACKOFF_BASE * 2**exponent, BACKOFF_MAX)


def _max_attempts(name: str) -> int:
    handler = _handlers.get(name)
    return handler.max_attempts if handler else DEFAULT_MAX_ATTEMPTS


def _save_failure(
    row: Workflow,
    *,
    error: str,
    added_attempts: int,
    now: datetime,
    also_update: list[str] | None = None,
) -> None:
    """Count failed attempts on a locked row and save it.

    Past the handler's limit an open row moves to needs_attention: beat
    leaves it alone and staff see it in the admin.
    """
    row.attempts += added_attempts
    row.last_error = error[:ERROR_MAX_CHARS]
    row.next_attempt_at = now + workflow_backoff(row.attempts)
    fields = [*(also_update or ()), "attempts", "last_error", "next_attempt_at"]
    if row.status == ST.OPEN and row.attempts >= _max_attempts(row.name):
        WORKFLOW_MACHINE.move(row, ST.NEEDS_ATTENTION, also_update=fields)
    else:
        row.save(update_fields=[*fields, "updated_at"])


@transaction.atomic
def workflow_fail(
    *,
    name: str,
    reference: str,
    error: str,
    payload: dict[str, Any] | None = None,
    attempts: int = 1,
) -> Workflow:
    """Record that step ``name`` for ``reference`` failed ``attempts`` times.

    One unresolved row per (name, reference): a later failure of the same
    step adds its attempts and error to it (its payload is kept).
    """
    now = timezone.now()
    row = (
        Workflow.objects.select_for_update()
        .filter(
            name=name, reference=reference, status__in=[ST.OPEN, ST.NEEDS_ATTENTION]
        )
        .order_by("pk")
        .first()
    )
    if row is None:
        row = Workflow(name=name, reference=reference, payload=payload or {})
        row.full_clean()
        row.save()
    _save_failure(row, error=error, added_attempts=attempts, now=now)
    return row


@transaction.atomic
def workflow_resolve(*, name: str, reference: str) -> Workflow | None:
    """Mark the unresolved row of step ``name`` for ``reference`` done, if any.

    For a step that succeeded by another path (a webhook, a manual refund).
    """
    row = (
        Workflow.objects.select_for_update()
        .filter(
            name=name, reference=reference, status__in=[ST.OPEN, ST.NEEDS_ATTENTION]
        )
        .order_by("pk")
        .first()
    )
    if row is not None:
        WORKFLOW_MACHINE.move(row, ST.RESOLVED)
    return row


def _run(row: Workflow, *, worker: str) -> Workflow:
    """Run a claimed row's handler, then record the outcome under the lease."""
    handler = _handlers.get(row.name)
    error = ""
    if handler is None:
        error = f"No handler is registered for workflow {row.name!r}."
    else:
        try:
            handler.run(row)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            logger.warning("workflow %s (%s) failed: %s", row.pk, row.name, error)
    with transaction.atomic():
        locked = Workflow.objects.select_for_update().get(pk=row.pk)
        if locked.claimed_by != worker:
            # The lease ran out and another worker took the row over: its
            # outcome is the one recorded.
            logger.warning("workflow %s: lease lost by %s", row.pk, worker)
            return locked
        released = lease_release_fields(locked)
        if error:
            _save_failure(
                locked,
                error=error,
                added_attempts=1,
                now=timezone.now(),
                also_update=released,
            )
        elif locked.status == ST.RESOLVED:
            # The handler resolved its own row (workflow_resolve from the
            # step's success path): only the bookkeeping is left to save.
            locked.attempts += 1
            locked.save(update_fields=[*released, "attempts", "updated_at"])
        else:
            locked.attempts += 1
            WORKFLOW_MACHINE.move(
                locked, ST.RESOLVED, also_update=[*released, "attempts"]
            )
    return locked


def workflows_retry_due(
    *, limit: int = 50, worker: str | None = None, now: datetime | None = None
) -> int:
    """Claim open workflows whose next attempt is due and run them.

    Return how many ran. Safe to run from several beat workers at once: each
    row is leased to one of them.
    """
    worker = worker or worker_id()
    now = now or timezone.now()
    due = Workflow.objects.filter(status=ST.OPEN, next_attempt_at__lte=now)
    rows = claim(due, worker=worker, lease=WORKFLOW_LEASE, limit=limit, now=now)
    for row in rows:
        _run(row, worker=worker)
    return len(rows)


def workflow_retry_now(*, workflow_id: int, worker: str | None = None) -> Workflow:
    """Run one workflow now, due or not (the admin's "Retry now").

    A resolved row, or one another worker is running, is returned unchanged.
    """
    worker = worker or worker_id()
    unresolved = Workflow.objects.filter(
        pk=workflow_id, status__in=[ST.OPEN, ST.NEEDS_ATTENTION]
    )
    rows = claim(unresolved, worker=worker, lease=WORKFLOW_LEASE, limit=1)
    if not rows:
        return Workflow.objects.get(pk=workflow_id)
    return _run(rows[0], worker=worker)
