"""Paying an open invoice off-session, for dunning (issue 15).

The shop runs its own retry schedule, so this module only ever asks Stripe to
charge once per call, with the caller's idempotency key per attempt; it never
sets Stripe's automatic collection or Smart Retries.

Stripe answers a declined ``POST /v1/invoices/{id}/pay`` with a card error;
localstripe (and Stripe, when the bank wants 3-D Secure) leaves the invoice
open with its PaymentIntent waiting. Both are read back from the intent, so
callers see one outcome: a paid snapshot, AuthenticationRequired, or
PaymentDeclined with ``details.decline_code``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from apps.billing import gateway
from apps.billing.exceptions import (
    AuthenticationRequired,
    PaymentDeclined,
    PaymentRequestInvalid,
)
from apps.billing.gateway.client import _client, _options, _translate


@dataclass(frozen=True, slots=True)
class InvoicePaymentSnapshot:
    invoice_id: str
    invoice_status: str
    amount_due_minor: int
    currency: str
    payment_intent_id: str
    payment_intent_status: str
    # For the page that completes 3-D Secure in the customer's browser.
    client_secret: str
    decline_code: str


def _dict(obj: Any) -> dict[str, Any]:
    return obj.to_dict(recursive=True) if hasattr(obj, "to_dict") else dict(obj)


def _intent_of(invoice: dict[str, Any]) -> dict[str, Any] | None:
    intent = invoice.get("payment_intent")
    if isinstance(intent, dict):
        return intent
    intent_id = intent if isinstance(intent, str) else ""
    if not intent_id:
        payments = (invoice.get("payments") or {}).get("data") or []
        for payment in payments:
            found = (payment.get("payment") or {}).get("payment_intent")
            intent_id = found if isinstance(found, str) else (found or {}).get("id", "")
            if intent_id:
                break
    if not intent_id:
        return None
    return _dict(_translate(lambda: _client().v1.payment_intents.retrieve(intent_id)))


def invoice_payment_retrieve(*, invoice_id: str) -> InvoicePaymentSnapshot:
    """Return the invoice's state of payment and its intent's client secret."""
    expand = ["payment_intent"] if gateway.is_localstripe() else ["payments"]
    invoice = _dict(
        _translate(
            lambda: _client().v1.invoices.retrieve(
                invoice_id, params={"expand": expand}
            )
        )
    )
    intent = _intent_of(invoice) or {}
    error = intent.get("last_payment_error") or {}
    return InvoicePaymentSnapshot(
        invoice_id=str(invoice.get("id") or invoice_id),
        invoice_status=str(invoice.get("status") or ""),
        amount_due_minor=int(invoice.get("amount_due") or 0),
        currency=str(invoice.get("currency") or "").upper(),
        payment_intent_id=str(intent.get("id") or ""),
        payment_intent_status=str(intent.get("status") or ""),
        client_secret=str(intent.get("client_secret") or ""),
        decline_code=str(error.get("decline_code") or error.get("code") or ""),
    )


def invoice_pay(*, invoice_id: str, idempotency_key: str) -> InvoicePaymentSnapshot:
    """Charge the invoice's customer's default card once; return it paid.

    Raise AuthenticationRequired (details.payment_intent) when the bank wants
    3-D Secure, PaymentDeclined (details.decline_code) when the card is
    declined, TransientError when Stripe cannot be reached (retry with the
    same key), PaymentRequestInvalid for an invoice that cannot be paid.
    """
    try:
        _translate(
            lambda: _client().v1.invoices.pay(
                invoice_id, options=_options(idempotency_key)
            )
        )
    except AuthenticationRequired:
        raise
    except PaymentDeclined as exc:
        snap = invoice_payment_retrieve(invoice_id=invoice_id)
        if snap.payment_intent_status == "requires_action":
            raise AuthenticationRequired(
                exc.message, details={"payment_intent": snap.payment_intent_id}
            ) from exc
        exc.details = {
            **(exc.details or {}),
            "decline_code": (exc.details or {}).get("decline_code")
            or snap.decline_code
            or "card_declined",
        }
        raise
    except PaymentRequestInvalid:
        # Paid meanwhile (the customer from the link, a webhook's sync):
        # nothing left to charge is the outcome the caller wanted.
        snap = invoice_payment_retrieve(invoice_id=invoice_id)
        if snap.invoice_status == "paid":
            return snap
        raise
    snap = invoice_payment_retrieve(invoice_id=invoice_id)
    if snap.invoice_status == "paid":
        return snap
    if snap.payment_intent_status == "requires_action":
        raise AuthenticationRequired(
            "Your bank asks you to confirm this payment.",
            details={"payment_intent": snap.payment_intent_id},
        )
    raise PaymentDeclined(
        "Your card was declined.",
        code="card_declined",
        details={
            "decline_code": snap.decline_code or "card_declined",
            "payment_intent": snap.payment_intent_id,
        },
    )


def invoice_mark_uncollectible(
    *, invoice_id: str, idempotency_key: str
) -> InvoicePaymentSnapshot:
    """Write the invoice off at Stripe (the subscription stays unpaid)."""
    _translate(
        lambda: _client().v1.invoices.mark_uncollectible(
            invoice_id, options=_options(idempotency_key)
        )
    )
    return invoice_payment_retrieve(invoice_id=invoice_id)
