"""Stripe customers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from apps.billing.gateway.client import _client, _options, _translate
from apps.billing.gateway.types import CustomerSnapshot

if TYPE_CHECKING:
    from stripe.params import CustomerCreateParams, CustomerUpdateParams


def customer_create(
    *,
    email: str,
    name: str = "",
    metadata: dict[str, str] | None = None,
    idempotency_key: str,
) -> CustomerSnapshot:
    """Create a Stripe customer."""
    params: CustomerCreateParams = {"email": email, "metadata": metadata or {}}
    if name:
        params["name"] = name
    return CustomerSnapshot.from_stripe(
        _translate(
            lambda: _client().v1.customers.create(
                params=params, options=_options(idempotency_key)
            )
        )
    )


def customer_retrieve(*, customer_id: str) -> CustomerSnapshot:
    return CustomerSnapshot.from_stripe(
        _translate(lambda: _client().v1.customers.retrieve(customer_id))
    )


def customer_update(
    *,
    customer_id: str,
    email: str | None = None,
    name: str | None = None,
    metadata: dict[str, str] | None = None,
    default_payment_method: str | None = None,
) -> CustomerSnapshot:
    """Change a customer; ``default_payment_method`` is what invoices charge."""
    params: CustomerUpdateParams = {}
    if email is not None:
        params["email"] = email
    if name is not None:
        params["name"] = name
    if metadata is not None:
        params["metadata"] = metadata
    if default_payment_method is not None:
        params["invoice_settings"] = {"default_payment_method": default_payment_method}
    return CustomerSnapshot.from_stripe(
        _translate(lambda: _client().v1.customers.update(customer_id, params=params))
    )
