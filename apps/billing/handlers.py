"""The single subscriber to dj-stripe's webhook signals.

dj-stripe verifies the signature, stores the Event (once per event id) and then
sends ``djstripe.signals.WEBHOOK_SIGNALS[event.type]`` with ``event=``. This
module turns the payment ones into billing's own signals so no other app
depends on dj-stripe's event shapes.

A signed event is a hint, not proof: the payload is only as trustworthy as the
webhook secret, and dj-stripe lets a request header replace that secret when
DEBUG is on. So nothing is forwarded from event data alone. The PaymentIntent
is retrieved from Stripe and forwarded only when its status fits the event and
the event's amount, currency and metadata are Stripe's own; the figures sent
on are Stripe's. The retrieval happens inside dj-stripe's transaction, which
holds no row lock of the shop's (only the new Event row).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from djstripe import signals as djstripe_signals
from djstripe.signals import WEBHOOK_SIGNALS

from apps.billing import gateway, selectors, signals
from apps.billing.exceptions import PaymentProviderError

if TYPE_CHECKING:
    from collections.abc import Callable

    from djstripe.models import Event

logger = logging.getLogger(__name__)

# dj-stripe 2.11 (WebhookEventTrigger.validate) verifies the signature with
# this header's value instead of the endpoint's secret when DEBUG is on:
# anyone could then sign their own events.
DEBUG_SECRET_HEADER = "x-djstripe-webhook-secret"  # noqa: S105 (a header name)


def _intent_kwargs(intent: dict[str, Any], event: Event) -> dict[str, Any]:
    return {
        "payment_intent_id": intent["id"],
        "amount_minor": int(intent["amount"]),
        "currency": str(intent["currency"]).upper(),
        "metadata": dict(intent.get("metadata") or {}),
        "event_id": event.id,
    }


def _claims_match(claimed: dict[str, Any], actual: dict[str, Any]) -> bool:
    def key(intent: dict[str, Any]) -> tuple:
        return (
            intent.get("amount"),
            str(intent.get("currency") or "").lower(),
            dict(intent.get("metadata") or {}),
        )

    return key(claimed) == key(actual)


def _stripe_intent(
    event: Event, accept: Callable[[str], bool]
) -> dict[str, Any] | None:
    """Return the event's intent as Stripe has it now, or None to ignore it.

    None when Stripe does not know the intent, when its status does not fit
    the event (``accept``), when the event's amount, currency or metadata are
    not Stripe's, or when it names another payment's reference. A transient
    Stripe failure propagates: dj-stripe rolls the event back and Stripe
    delivers it again later.
    """
    claimed = event.data.get("object") or {}
    intent_id = str(claimed.get("id") or "")
    try:
        intent = gateway.payment_intent_retrieve(payment_intent_id=intent_id)
    except PaymentProviderError as exc:
        logger.warning(
            "%s for %r ignored: Stripe does not know it (%s)",
            event.type,
            intent_id,
            exc,
        )
        return None
    actual: dict[str, Any] = intent.to_dict(recursive=True)
    if not accept(str(actual.get("status"))):
        logger.warning(
            "%s for %s ignored: the intent is %s at Stripe",
            event.type,
            intent_id,
            actual.get("status"),
        )
        return None
    if not _claims_match(claimed, actual):
        logger.warning(
            "%s for %s ignored: amount, currency or metadata differ from Stripe's",
            event.type,
            intent_id,
        )
        return None
    payment = selectors.payment_get_by_intent(intent_id=intent_id)
    reference = (actual.get("metadata") or {}).get("reference")
    if payment is not None and reference != payment.reference:
        logger.warning(
            "%s for %s ignored: the intent's reference %r is not payment %s's",
            event.type,
            intent_id,
            reference,
            payment.pk,
        )
        return None
    return actual


def on_payment_intent_succeeded(sender: Any, event: Event, **kwargs: Any) -> None:
    intent = _stripe_intent(event, lambda status: status == "succeeded")
    if intent is None:
        return
    payload = _intent_kwargs(intent, event)
    logger.info("payment succeeded %s", payload["payment_intent_id"])
    signals.payment_succeeded.send(sender="billing", **payload)


def on_payment_intent_payment_failed(sender: Any, event: Event, **kwargs: Any) -> None:
    # A failure about an intent that has since succeeded is stale (or forged).
    intent = _stripe_intent(event, lambda status: status != "succeeded")
    if intent is None:
        return
    payload = _intent_kwargs(intent, event)
    # Labels only (the status is Stripe's): the event's are a fallback.
    error = intent.get("last_payment_error") or {}
    claimed = (event.data.get("object") or {}).get("last_payment_error") or {}
    payload["error_message"] = error.get("message") or claimed.get("message") or ""
    logger.info("payment failed %s", payload["payment_intent_id"])
    signals.payment_failed.send(sender="billing", **payload)


def on_payment_intent_canceled(sender: Any, event: Event, **kwargs: Any) -> None:
    intent = _stripe_intent(event, lambda status: status == "canceled")
    if intent is None:
        return
    payload = _intent_kwargs(intent, event)
    reason = (
        intent.get("cancellation_reason")
        or (event.data.get("object") or {}).get("cancellation_reason")
        or ""
    )
    payload["cancellation_reason"] = str(reason)
    logger.info("payment canceled %s", payload["payment_intent_id"])
    signals.payment_canceled.send(sender="billing", **payload)


def refuse_debug_secret_header(sender: Any, instance: Any, **kwargs: Any) -> None:
    """Drop the debug secret header before dj-stripe validates the trigger.

    The webhook view refuses such requests already; this also covers any
    route to dj-stripe's own view. The stored headers say it was refused.
    """
    headers = instance.headers or {}
    for name in list(headers):
        if name.lower() == DEBUG_SECRET_HEADER:
            headers[name] = "(refused)"
            # validate() reads the value through a case-insensitive mapping;
            # renaming the key keeps the evidence out of its reach.
            headers[f"{name}-Refused"] = headers.pop(name)


def connect() -> None:
    """Connect the receivers (called from BillingConfig.ready())."""
    djstripe_signals.webhook_pre_validate.connect(
        refuse_debug_secret_header, dispatch_uid="billing.refuse_debug_secret_header"
    )
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
