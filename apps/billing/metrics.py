"""Prometheus counters for refunds (apps.core.metrics).

Every refund, whoever asked for it, is recorded as one ``PaymentRefund`` row
(``payment_refund``): the row's creation is the one place to count it,
after commit so a rolled-back recording is not counted.
"""

from functools import partial
from typing import Any

from django.db import transaction
from django.db.models.signals import post_save

from apps.billing.models import PaymentRefund
from apps.core.metrics import REFUNDED_MINOR, REFUNDS


def _count(currency: str, amount_minor: int) -> None:
    REFUNDS.labels(currency=currency).inc()
    REFUNDED_MINOR.labels(currency=currency).inc(amount_minor)


def _refund_saved(
    sender: Any, *, instance: PaymentRefund, created: bool, **_kwargs: Any
) -> None:
    if not created:
        return
    # payment_refund creates the row with its (locked) Payment: no query.
    currency = instance.payment.currency.upper()
    transaction.on_commit(partial(_count, currency, instance.amount_minor), robust=True)


def connect() -> None:
    post_save.connect(_refund_saved, sender=PaymentRefund, dispatch_uid="metrics")
