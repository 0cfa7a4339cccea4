"""Renew subscriptions on localstripe, which never renews by itself."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.billing.gateway.renewals import CARD_RENEWAL_FAILS
from apps.subscriptions.models import Subscription
from apps.subscriptions.services import reconcile


class Command(BaseCommand):
    help = "Create and pay the next invoice at localstripe (--subscription or --due)."

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--subscription", type=int, help="Our subscription id.")
        which.add_argument(
            "--due", action="store_true", help="Every subscription past its period end."
        )
        parser.add_argument(
            "--fail",
            action="store_true",
            help="Make the renewal fail: a refused card becomes the default first.",
        )
        parser.add_argument(
            "--card",
            default=CARD_RENEWAL_FAILS,
            help="With --fail: the test card to charge (default 4000 0082 6000 3178).",
        )

    def handle(
        self,
        *args: Any,
        subscription: int | None,
        due: bool,
        fail: bool = False,
        card: str = CARD_RENEWAL_FAILS,
        **kw: Any,
    ) -> None:
        if due or subscription is None:
            subs = reconcile.subscriptions_due_for_renewal()
        else:
            found = Subscription.objects.filter(pk=subscription).first()
            if found is None:
                raise CommandError(f"No subscription {subscription}.")
            subs = [found]
        for sub in subs:
            if fail:
                invoice = reconcile.subscription_simulate_failed_renewal(
                    subscription=sub, card_number=card.replace(" ", "")
                )
            else:
                invoice = reconcile.subscription_simulate_renewal(subscription=sub)
            status = invoice.status if invoice else "not ours"
            self.stdout.write(f"subscription {sub.pk}: invoice {status}")
        self.stdout.write(f"renewed {len(subs)}")
