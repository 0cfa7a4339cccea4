"""Check every wallet against its ledger; report drift, never edit."""

from django.core.management.base import BaseCommand, CommandError

from apps.wallets.selectors import wallets_with_drift


class Command(BaseCommand):
    help = "Compare each wallet's balances with the sum of its ledger entries."

    def handle(self, *args, **options):
        drift = wallets_with_drift()
        for row in drift:
            self.stdout.write(
                f"wallet {row.wallet_id} (user {row.user_id}, {row.currency}): "
                f"balance {row.balance_minor} vs ledger {row.ledger_balance_minor}; "
                f"held {row.held_minor} vs ledger {row.ledger_held_minor}"
            )
        if drift:
            raise CommandError(f"{len(drift)} wallet(s) drift from their ledger")
        self.stdout.write("wallets reconciled: 0 drift")
