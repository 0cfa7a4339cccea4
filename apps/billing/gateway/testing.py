"""Test-only drivers of Stripe (localstripe): never called by the shop's code.

A browser or mobile SDK creates payment methods and confirms intents with
card numbers; tests and demos stand in for it here. Real Stripe refuses raw
card numbers from servers unless the account is enabled for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from apps.billing.gateway.client import _client, _translate
from apps.billing.gateway.intents import payment_intent_confirm
from apps.billing.gateway.types import PaymentIntentSnapshot, PaymentMethodSnapshot

if TYPE_CHECKING:
    from stripe.params import PaymentMethodCreateParamsCard

# Stripe's documented test cards (localstripe knows the same numbers).
CARD_OK = "4242424242424242"
CARD_DECLINED = "4000000000000002"
CARD_3DS_REQUIRED = "4000002760003184"
CARD_3DS_ONCE = "4000002500003155"


def card_payment_method_create(
    *, number: str, exp_month: int = 12, exp_year: int = 2034, cvc: str = "123"
) -> PaymentMethodSnapshot:
    """Create a card PaymentMethod from a raw test card number."""
    card: PaymentMethodCreateParamsCard = {
        "number": number,
        "exp_month": exp_month,
        "exp_year": exp_year,
    }
    return PaymentMethodSnapshot.from_stripe(
        _translate(
            lambda: _client().v1.payment_methods.create(
                params={"type": "card", "card": {**card, "cvc": cvc}}
            )
        )
    )


def payment_intent_confirm_with_test_card(
    *, payment_intent_id: str, card_number: str, idempotency_key: str | None = None
) -> PaymentIntentSnapshot:
    """Confirm an intent with a test card, as the shopper's browser would."""
    method = card_payment_method_create(number=card_number)
    return payment_intent_confirm(
        payment_intent_id=payment_intent_id,
        payment_method=method.id,
        idempotency_key=idempotency_key,
    )


def payment_intent_payload(*, payment_intent_id: str) -> dict[str, Any]:
    """Stripe's whole PaymentIntent as plain data, to forge webhook events."""
    intent = _translate(
        lambda: _client().v1.payment_intents.retrieve(payment_intent_id)
    )
    return intent.to_dict(recursive=True)


def payment_intent_cancel_payload(*, payment_intent_id: str) -> dict[str, Any]:
    """Cancel the intent; return Stripe's whole answer as plain data."""
    return _translate(
        lambda: _client().v1.payment_intents.cancel(payment_intent_id)
    ).to_dict(recursive=True)


def invoice_void(*, invoice_id: str) -> None:
    """Void an open invoice, as Stripe does to a first invoice left unpaid.

    Stripe gives an unpaid first invoice up after about a day and the
    subscription becomes incomplete_expired; tests do it at once.
    """
    _translate(lambda: _client().v1.invoices.void_invoice(invoice_id))
