"""Receivers: subscriptions tell dunning about invoices and new cards."""

from typing import Any

from django.dispatch import receiver

from apps.dunning import services
from apps.dunning.models import DunningCase
from apps.subscriptions.signals import (
    invoice_paid,
    invoice_payment_failed,
    payment_method_updated,
)


@receiver(invoice_payment_failed)
def open_case(*, invoice_id: int, **kwargs: Any) -> None:
    services.case_open(invoice_id=invoice_id)


@receiver(invoice_paid)
def recover_case(*, invoice_id: int, **kwargs: Any) -> None:
    services.case_recover_for_invoice(invoice_id=invoice_id, reason="invoice_paid")


@receiver(payment_method_updated)
def retry_with_new_card(*, subscription_id: int, **kwargs: Any) -> None:
    for case_id in DunningCase.objects.filter(
        subscription_id=subscription_id, status=DunningCase.Status.OPEN
    ).values_list("pk", flat=True):
        services.case_retry_now(case_id=case_id, reason="card_updated")
