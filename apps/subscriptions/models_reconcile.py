"""One row per reconciliation run with Stripe, for admin to show the counts."""

from django.db import models


class ReconcileRun(models.Model):
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    checked = models.PositiveIntegerField(default=0)
    fixed = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M}: {self.checked} checked"
