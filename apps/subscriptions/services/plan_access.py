"""Staff offer a private plan to a user (enterprise deals)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.subscriptions.models import Plan, PlanAssignment

if TYPE_CHECKING:
    from apps.accounts.models import User


@transaction.atomic
def plan_assign(
    *, plan: Plan, user: User, assigned_by: User | None = None, note: str = ""
) -> PlanAssignment:
    """Let ``user`` subscribe to the private ``plan``; a repeat keeps one row.

    Raise ValidationError when the plan is public (everyone may subscribe).
    """
    if plan.visibility != Plan.Visibility.PRIVATE:
        raise ValidationError(
            {"plan": "Only private plans are assigned; this one is public."}
        )
    assignment, created = PlanAssignment.objects.get_or_create(
        plan=plan, user=user, defaults={"assigned_by": assigned_by, "note": note}
    )
    if not created and note and assignment.note != note:
        assignment.note = note
        assignment.save(update_fields=["note", "updated_at"])
    return assignment
