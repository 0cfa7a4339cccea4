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
