"""Refunds of PaymentIntents."""

from __future__ import annotations

from typing import TYPE_CHECKING

from apps.billing.gateway.client import _client, _options, _translate
from apps.billing.gateway.types import RefundSnapshot

if TYPE_CHECKING:
    from stripe.params import RefundCreateParams


def refund_create(
    *,
    payment_intent_id: str,
    amount_minor: int | None = None,
    idempotency_key: str,
    metadata: dict[str, str] | None = None,
) -> RefundSnapshot:
    """Refund a succeeded PaymentIntent in full, or amount_minor of it."""
    params: RefundCreateParams = {"payment_intent": payment_intent_id}
    if amount_minor is not None:
        params["amount"] = amount_minor
    if metadata:
        params["metadata"] = metadata
    return RefundSnapshot.from_stripe(
        _translate(
            lambda: _client().v1.refunds.create(
                params=params, options=_options(idempotency_key)
            )
        )
    )


def refund_retrieve(*, refund_id: str) -> RefundSnapshot:
    return RefundSnapshot.from_stripe(
        _translate(lambda: _client().v1.refunds.retrieve(refund_id))
    )
