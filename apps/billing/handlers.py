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
from apps.billing.gateway import IntentStatus, PaymentIntentSnapshot

if TYPE_CHECKING:
    from collections.abc import Callable

    from djstripe.models import Event

logger = logging.getLogger(__name__)

# dj-stripe 2.11 (WebhookEventTrigger.validate) verifies the signature with
# this header's value instead of the endpoint's secret when DEBUG is on:
# anyone could then sign their own events.
DEBUG_SECRET_HEADER = "x-djstripe-webhook-secret"  # noqa: S105 (a header name)


def _intent_kwargs(intent: PaymentIntentSnapshot, event: Event) -> dict[str, Any]:
    return {
        "payment_intent_id": intent.id,
        "amount_minor": intent.amount_minor,
        "currency": intent.currency,
        "metadata": dict(intent.metadata),
        "event_id": event.id,
    }


def _claims_match(claimed: dict[str, Any], actual: PaymentIntentSnapshot) -> bool:
    return (
        claimed.get("amount"),
        str(claimed.get("currency") or "").upper(),
        dict(claimed.get("metadata") or {}),
    ) == (actual.amount_minor, actual.currency, dict(actual.metadata))


def _stripe_intent(
    event: Event, accept: Callable[[IntentStatus], bool]
) -> PaymentIntentSnapshot | None:
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
        actual = gateway.payment_intent_retrieve(payment_intent_id=intent_id)
    except PaymentProviderError as exc:
        logger.warning(
            "%s for %r ignored: Stripe does not know it (%s)",
            event.type,
            intent_id,
            exc,
        )
        return None
    if not accept(actual.status):
        logger.warning(
            "%s for %s ignored: the intent is %s at Stripe",
            event.type,
            intent_id,
            actual.status,
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
    reference = actual.metadata.get("reference")
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
    intent = _stripe_intent(event, lambda status: status == IntentStatus.SUCCEEDED)
    if intent is None:
        return
    payload = _intent_kwargs(intent, event)
    logger.info("payment succeeded %s", payload["payment_intent_id"])
    signals.payment_succeeded.send(sender="billing", **payload)


def on_payment_intent_payment_failed(sender: Any, event: Event, **kwargs: Any) -> None:
    # A failure about an intent that has since succeeded is stale (or forged).
    intent = _stripe_intent(event, lambda status: status != IntentStatus.SUCCEEDED)
    if intent is None:
        return
    payload = _intent_kwargs(intent, event)
    # Labels only (the status is Stripe's): the event's are a fallback.
    error = intent.last_payment_error
    claimed = (event.data.get("object") or {}).get("last_payment_error") or {}
    payload["error_message"] = (
        error.message if error and error.message else claimed.get("message") or ""
    )
    logger.info("payment failed %s", payload["payment_intent_id"])
    signals.payment_failed.send(sender="billing", **payload)


def on_payment_intent_canceled(sender: Any, event: Event, **kwargs: Any) -> None:
    intent = _stripe_intent(event, lambda status: status == IntentStatus.CANCELED)
    if intent is None:
        return
    payload = _intent_kwargs(intent, event)
    reason = (
        intent.cancellation_reason
        or (event.data.get("object") or {}).get("cancellation_reason")
        or ""
    )
    payload["cancellation_reason"] = str(reason)
    logger.info("payment canceled %s", payload["payment_intent_id"])
    signals.payment_canceled.send(sender="billing", **payload)


def _object_id(event: Event, prefix: str) -> str:
    obj = event.data.get("object") or {}
    value = str(obj.get("id") or "")
    return value if value.startswith(prefix) else ""


def on_subscription_event(sender: Any, event: Event, **kwargs: Any) -> None:
    # Only the id travels: the receiver fetches the subscription from Stripe.
    stripe_id = _object_id(event, "sub_")
    if stripe_id:
        signals.subscription_event.send(
            sender="billing",
            stripe_id=stripe_id,
            event_type=event.type,
            event_id=event.id,
        )


def on_invoice_event(sender: Any, event: Event, **kwargs: Any) -> None:
    stripe_id = _object_id(event, "in_")
    if not stripe_id:
        return
    obj = event.data.get("object") or {}
    parent = (obj.get("parent") or {}).get("subscription_details") or {}
    claimed = obj.get("subscription") or parent.get("subscription") or ""
    signals.invoice_event.send(
        sender="billing",
        stripe_id=stripe_id,
        subscription_id=claimed if isinstance(claimed, str) else "",
        event_type=event.type,
        event_id=event.id,
    )


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
    for event_type, receiver in WEBHOOK_SIGNALS.items():
        if event_type.startswith("customer.subscription."):
            receiver.connect(
                on_subscription_event, dispatch_uid=f"billing.{event_type}"
            )
        elif event_type.startswith("invoice.") and event_type != "invoice.upcoming":
            receiver.connect(on_invoice_event, dispatch_uid=f"billing.{event_type}")
