"""Payment reads."""

from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet

from apps.billing.models import Payment


def payment_get_by_intent(*, intent_id: str) -> Payment | None:
    return Payment.objects.filter(intent_id=intent_id).first()


def payment_latest_for_reference(*, reference: str) -> Payment | None:
    return Payment.objects.filter(reference=reference).order_by("-pk").first()


def payment_latest_for_references(
    *, references: Iterable[str] | QuerySet[Any, Any]
) -> Payment | None:
    """The newest payment of any of ``references`` (a list or a subquery)."""
    return Payment.objects.filter(reference__in=references).order_by("-pk").first()


def payments_for_references(*, references: list[str]) -> QuerySet[Payment]:
    return Payment.objects.filter(reference__in=references).prefetch_related("refunds")


def payment_references_with_status(*, status: str) -> QuerySet[Payment, str]:
    """References (order numbers) with a payment in ``status``, as a subquery."""
    return Payment.objects.filter(status=status).values_list("reference", flat=True)
