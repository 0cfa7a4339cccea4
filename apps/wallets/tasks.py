import dataclasses
import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="wallets.reconcile")
def reconcile_wallets() -> int:
    """Nightly: log every wallet whose balances drift from its ledger."""
    from apps.wallets.selectors import wallets_with_drift

    drift = wallets_with_drift()
    for row in drift:
        logger.error("wallet ledger drift: %s", dataclasses.asdict(row))
    return len(drift)


@shared_task(name="wallets.send_due_gift_cards", acks_late=True)
def send_due_gift_cards() -> int:
    from apps.wallets.services import gift_cards_send_due

    return gift_cards_send_due()
