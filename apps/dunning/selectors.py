"""Reads for dunning pages and admin."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from apps.core.models import Notification
from apps.dunning.models import DunningAction, DunningCase


def case_get_for_user(*, user_id: int | None, case_id: int) -> DunningCase:
    """The user's own case; Http404 for anyone else's, so ids do not leak."""
    if user_id is None:
        raise Http404("No such payment.")
    case = (
        DunningCase.objects.select_related("invoice", "subscription__price__plan")
        .filter(pk=case_id, subscription__user_id=user_id)
        .first()
    )
    if case is None:
        raise Http404("No such payment.")
    return case


def end_of_today(now: datetime | None = None) -> datetime:
    now = timezone.localtime(now or timezone.now())
    return timezone.make_aware(
        datetime.combine(now.date() + timedelta(days=1), time.min)
    )


def cases_due_today(now: datetime | None = None) -> QuerySet[DunningCase]:
    """Open cases with an action scheduled before today ends (overdue too)."""
    due = DunningAction.objects.filter(
        status=DunningAction.Status.SCHEDULED, due_at__lt=end_of_today(now)
    ).values("case_id")
    return DunningCase.objects.filter(status=DunningCase.Status.OPEN, pk__in=due)


def case_emails(*, case: DunningCase) -> QuerySet[Notification]:
    return Notification.objects.filter(
        idempotency_key__startswith=f"dunning:{case.pk}:"
    ).order_by("created_at", "pk")
