"""Pending invoice items: charges Stripe adds to a customer's next invoice.

Metered overage is pushed this way before a period's renewal invoice is
created, so the invoice carries it. Same rules as the rest of the gateway:
settings read at call time, errors translated, frozen snapshots returned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from apps.billing.gateway.client import _client, _options, _translate


@dataclass(frozen=True, slots=True)
class InvoiceItemSnapshot:
    id: str
    customer_id: str
    subscription_id: str
    invoice_id: str
    amount_minor: int
    currency: str
    description: str


def _snapshot(obj: Any) -> InvoiceItemSnapshot:
    data = obj.to_dict(recursive=True) if hasattr(obj, "to_dict") else dict(obj)

    def _id(value: Any) -> str:
        if isinstance(value, dict):
            return str(value.get("id") or "")
        return str(value or "")

    return InvoiceItemSnapshot(
        id=data["id"],
        customer_id=_id(data.get("customer")),
        subscription_id=_id(data.get("subscription")),
        invoice_id=_id(data.get("invoice")),
        amount_minor=int(data["amount"]),
        currency=str(data["currency"]).upper(),
        description=data.get("description") or "",
    )


def invoice_item_create(
    *,
    customer_id: str,
    subscription_id: str,
    amount_minor: int,
    currency: str,
    description: str,
    idempotency_key: str,
) -> InvoiceItemSnapshot:
    """Add a pending item to the subscription's next invoice (replay-safe)."""
    client = _client()
    item = _translate(
        lambda: client.v1.invoice_items.create(
            params={
                "customer": customer_id,
                "subscription": subscription_id,
                "amount": amount_minor,
                "currency": currency.lower(),
                "description": description,
            },
            options=_options(idempotency_key),
        )
    )
    return _snapshot(item)
