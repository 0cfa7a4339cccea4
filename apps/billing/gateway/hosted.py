"""Stripe-hosted pages: Checkout Sessions and the Billing Portal (real Stripe)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from apps.billing.gateway.client import (
    _client,
    _options,
    _require_real_stripe,
    _translate,
)
from apps.billing.gateway.types import HostedSessionSnapshot

if TYPE_CHECKING:
    from stripe.params.checkout import SessionCreateParams, SessionCreateParamsLineItem


def checkout_session_create(
    *,
    mode: str,
    line_items: list[SessionCreateParamsLineItem],
    success_url: str,
    cancel_url: str,
    customer: str | None = None,
    idempotency_key: str,
) -> HostedSessionSnapshot:
    """Create a hosted Checkout Session (needs real Stripe)."""
    _require_real_stripe("Checkout Sessions API")
    params: SessionCreateParams = {
        "mode": mode,
        "line_items": line_items,
        "success_url": success_url,
        "cancel_url": cancel_url,
    }
    if customer:
        params["customer"] = customer
    return HostedSessionSnapshot.from_stripe(
        _translate(
            lambda: _client().v1.checkout.sessions.create(
                params=params, options=_options(idempotency_key)
            )
        )
    )


def billing_portal_session_create(
    *, customer: str, return_url: str
) -> HostedSessionSnapshot:
    """Create a Billing Portal session (needs real Stripe)."""
    _require_real_stripe("Billing Portal API")
    return HostedSessionSnapshot.from_stripe(
        _translate(
            lambda: _client().v1.billing_portal.sessions.create(
                params={"customer": customer, "return_url": return_url}
            )
        )
    )
