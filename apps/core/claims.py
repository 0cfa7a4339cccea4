"""Claim rows for one worker with a lease: the one idiom for "who works on this".

A claimed row carries ``claimed_by`` and ``lease_expires_at``. Other workers
skip it until the lease expires, so a worker that dies mid-job (OOM kill, lost
machine) holds nothing for longer than its lease: the next sweep reclaims it.
The claim commits at once, so no row lock is held while the work runs (a
Stripe call, an SMTP send).
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

M = TypeVar("M", bound=models.Model)


def worker_id() -> str:
    """Return a name for this claimant, unique across hosts, processes and calls."""
    return f"{socket.gethostname()[:64]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def claimable(now: datetime) -> Q:
    """Rows nobody holds: never claimed, released, or with a lapsed lease."""
    return Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now)


def claim(
    queryset: models.QuerySet[M],
    *,
    worker: str,
    lease: timedelta,
    limit: int,
    now: datetime | None = None,
    **also_set: Any,
) -> list[M]:
    """Lease up to ``limit`` unheld rows of ``queryset`` to ``worker``, oldest first.

    ``select_for_update(skip_locked=True)`` keeps concurrent claimants off
    each other's rows without waiting; the UPDATE repeats the queryset's
    conditions and the lease condition, so on a database without row locks
    (SQLite) two claimants still cannot both win a row. ``also_set`` is
    written with the lease (a status such as ``sending``). Return the claimed
    rows as saved.
    """
    now = now or timezone.now()
    expires_at = now + lease
    model = queryset.model
    with transaction.atomic():
        ids = list(
            queryset.filter(claimable(now))
            .select_for_update(skip_locked=True)
            .order_by("pk")
            .values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return []
        queryset.filter(claimable(now), pk__in=ids).update(
            claimed_by=worker, lease_expires_at=expires_at, **also_set
        )
    return list(
        model._default_manager.filter(
            pk__in=ids, claimed_by=worker, lease_expires_at=expires_at
        ).order_by("pk")
    )


def lease_release_fields(row: models.Model) -> list[str]:
    """Clear ``row``'s lease in memory; return the fields to save."""
    row.claimed_by = ""  # type: ignore[attr-defined]  # every claimable model has it
    row.lease_expires_at = None  # type: ignore[attr-defined]  # as above
    return ["claimed_by", "lease_expires_at"]
