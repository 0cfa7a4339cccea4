"""Webhook endpoints: Stripe's API, or localstripe's private config route."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import requests

from apps.billing.exceptions import PaymentProviderError, TransientError
from apps.billing.gateway.client import (
    _client,
    _options,
    _require_real_stripe,
    _translate,
    api_host,
    is_localstripe,
)
from apps.billing.gateway.types import WebhookEndpointSnapshot

if TYPE_CHECKING:
    from stripe.params import WebhookEndpointCreateParams


def webhook_endpoint_create(
    *,
    url: str,
    enabled_events: Sequence[str] = ("*",),
    metadata: dict[str, str] | None = None,
    idempotency_key: str | None = None,
) -> WebhookEndpointSnapshot:
    """Register a webhook endpoint with Stripe.

    The response is the only one that carries the endpoint's secret.
    localstripe has no Webhook Endpoints API: use localstripe_webhook_register.
    """
    _require_real_stripe("Webhook Endpoints API")
    params: WebhookEndpointCreateParams = {
        "url": url,
        # Any event name goes through: Stripe adds events faster than the stubs.
        "enabled_events": list(enabled_events),  # type: ignore[arg-type]  # stripe Literal: today's events
        "metadata": metadata or {},
    }
    endpoint = _translate(
        lambda: _client().v1.webhook_endpoints.create(
            params=params, options=_options(idempotency_key)
        )
    )
    return WebhookEndpointSnapshot.from_stripe(endpoint)


def localstripe_webhook_register(
    *, name: str, url: str, secret: str, events: Sequence[str] | None = None
) -> None:
    """Tell localstripe to POST signed events to url (lost when it restarts)."""
    if not is_localstripe():
        raise ValueError("localstripe_webhook_register needs a localstripe host")
    payload: dict[str, Any] = {"url": url, "secret": secret}
    if events:
        payload["events"] = list(events)
    try:
        response = requests.post(
            f"{api_host()}/_config/webhooks/{name}", json=payload, timeout=10
        )
    except requests.RequestException as exc:
        raise TransientError(f"localstripe unreachable: {exc}") from exc
    if response.status_code != 200:
        raise PaymentProviderError(
            f"localstripe refused the webhook registration: {response.text}",
            details={"http_status": response.status_code},
        )
