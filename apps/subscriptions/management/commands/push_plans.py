"""Run the Stripe push task for every plan not yet synced (make run calls it).

The task runs in this process (``apply``), so it works with or without a
worker; the admin's "push again" queues the same task instead.
"""

from typing import Any

from django.core.management.base import BaseCommand

from apps.subscriptions.models import Plan, PushStatus
from apps.subscriptions.tasks import push_plan


class Command(BaseCommand):
    help = "Push plans and prices that are pending or failed to Stripe."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--all", action="store_true", help="Push synced plans too.")

    def handle(self, *args: Any, **options: Any) -> None:
        plans = Plan.objects.all()
        if not options["all"]:
            plans = plans.exclude(
                push_status=PushStatus.SYNCED, prices__push_status=PushStatus.SYNCED
            ).distinct()
        for plan_id in plans.values_list("pk", flat=True):
            push_plan.apply(args=(plan_id,), throw=False)
        for plan in Plan.objects.order_by("sort_order"):
            line = f"{plan.slug}: {plan.push_status}"
            if plan.push_error:
                line += f" ({plan.push_error})"
            self.stdout.write(line)
