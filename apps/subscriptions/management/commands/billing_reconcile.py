"""Compare live subscriptions and recent invoices with Stripe; fix drift."""

from typing import Any

from django.core.management.base import BaseCommand

from apps.subscriptions.services import reconcile


class Command(BaseCommand):
    help = "Sync live subscriptions and the last 30 days of invoices from Stripe."

    def handle(self, *args: Any, **options: Any) -> None:
        counts = reconcile.billing_reconcile()
        self.stdout.write(
            f"checked {counts.checked}, fixed {counts.fixed}, failed {counts.failed}"
        )
