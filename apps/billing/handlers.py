"""The single subscriber to dj-stripe's webhook signals.

dj-stripe verifies the signature, stores the Event (once per event id) and then
sends ``djstripe.signals.WEBHOOK_SIGNALS[event.type]`` with ``event=``. This
module turns the payment ones into billing's own signals so no other app
depends on dj-stripe's event shapes.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from djstripe.signals import WEBHOOK_SIGNALS

from apps.billing import signals

if TYPE_CHECKING:
    from djstripe.models import Event

logger = logging.getLogger(__name__)


def _intent_kwargs(event: Event) -> dict[str, Any]:
    intent = event.data["object"]
    return {
        "payment_intent_id": intent["id"],
        "amount_minor": int(intent["amount"]),
        "currency": str(intent["currency"]).upper(),
        "metadata": dict(intent.get("metadata") or {}),
        "event_id": event.id,
    }


def on_payment_intent_succeeded(sender: Any, event: Event, **kwargs: Any) -> None:
    payload = _intent_kwargs(event)
    logger.info("payment succeeded %s", payload["payment_intent_id"])
    signals.payment_succeeded.send(sender="billing", **payload)


def on_payment_intent_payment_failed(sender: Any, event: Event, **kwargs: Any) -> None:
    payload = _intent_kwargs(event)
    error = event.data["object"].get("last_payment_error") or {}
    payload["error_message"] = error.get("message") or ""
    logger.info("payment failed %s", payload["payment_intent_id"])
    signals.payment_failed.send(sender="billing", **payload)


def on_payment_intent_canceled(sender: Any, event: Event, **kwargs: Any) -> None:
    payload = _intent_kwargs(event)
    reason = event.data["object"].get("cancellation_reason") or ""
    payload["cancellation_reason"] = str(reason)
    logger.info("payment canceled %s", payload["payment_intent_id"])
    signals.payment_canceled.send(sender="billing", **payload)


def connect() -> None:
    """Connect the receivers (called from BillingConfig.ready())."""
    WEBHOOK_SIGNALS["payment_intent.succeeded"].connect(
        on_payment_intent_succeeded, dispatch_uid="billing.payment_intent.succeeded"
    )
    WEBHOOK_SIGNALS["payment_intent.payment_failed"].connect(
        on_payment_intent_payment_failed,
        dispatch_uid="billing.payment_intent.payment_failed",
    )
    WEBHOOK_SIGNALS["payment_intent.canceled"].connect(
        on_payment_intent_canceled, dispatch_uid="billing.payment_intent.canceled"
    )
