"""Who may subscribe to a private plan: staff assign it (enterprise deals).

Kept beside ``models.py`` (which imports it) so that file stays small.
"""

from django.conf import settings
from django.db import models

from apps.core.models import TimeStampedModel


class PlanAssignment(TimeStampedModel):
    """A private plan offered to one user; public plans need no row."""

    plan = models.ForeignKey(
        "subscriptions.Plan", on_delete=models.CASCADE, related_name="assignments"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    note = models.CharField(
        max_length=200, blank=True, help_text="The deal, for staff (not shown)."
    )

    class Meta:
        ordering = ["plan", "user"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "user"], name="subscriptions_one_assignment_per_user"
            )
        ]

    def __str__(self) -> str:
        return f"{self.plan_id} → user {self.user_id}"
