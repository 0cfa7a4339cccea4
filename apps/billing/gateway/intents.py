"""PaymentIntents, SetupIntents and attaching payment methods to customers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from apps.billing.gateway.client import _client, _options, _translate
from apps.billing.gateway.types import (
    PaymentIntentSnapshot,
    PaymentMethodSnapshot,
    SetupIntentSnapshot,
)

if TYPE_CHECKING:
    from stripe.params import (
        PaymentIntentCreateParams,
        PaymentIntentUpdateParams,
        SetupIntentCreateParams,
    )


def payment_intent_create(
    *,
    amount_minor: int,
    currency: str,
    metadata: dict[str, str] | None = None,
    idempotency_key: str,
    customer: str | None = None,
) -> PaymentIntentSnapshot:
    """Create a card PaymentIntent for amount_minor in currency."""
    params: PaymentIntentCreateParams = {
        "amount": amount_minor,
        "currency": currency.lower(),
        "metadata": metadata or {},
        "payment_method_types": ["card"],
    }
    if customer:
        params["customer"] = customer
    return PaymentIntentSnapshot.from_stripe(
        _translate(
            lambda: _client().v1.payment_intents.create(
                params=params, options=_options(idempotency_key)
            )
        )
    )


def payment_intent_update(
    *,
    payment_intent_id: str,
    amount_minor: int | None = None,
    metadata: dict[str, str] | None = None,
    payment_method: str | None = None,
    idempotency_key: str | None = None,
) -> PaymentIntentSnapshot:
    """Change an unconfirmed PaymentIntent's amount, metadata or payment method."""
    params: PaymentIntentUpdateParams = {}
    if amount_minor is not None:
        params["amount"] = amount_minor
    if metadata is not None:
        params["metadata"] = metadata
    if payment_method is not None:
        params["payment_method"] = payment_method
    return PaymentIntentSnapshot.from_stripe(
        _translate(
            lambda: _client().v1.payment_intents.update(
                payment_intent_id, params=params, options=_options(idempotency_key)
            )
        )
    )


def payment_intent_retrieve(*, payment_intent_id: str) -> PaymentIntentSnapshot:
    return PaymentIntentSnapshot.from_stripe(
        _translate(lambda: _client().v1.payment_intents.retrieve(payment_intent_id))
    )


def payment_intent_cancel(
    *, payment_intent_id: str, idempotency_key: str | None = None
) -> PaymentIntentSnapshot:
    return PaymentIntentSnapshot.from_stripe(
        _translate(
            lambda: _client().v1.payment_intents.cancel(
                payment_intent_id, options=_options(idempotency_key)
            )
        )
    )


def payment_intent_confirm(
    *,
    payment_intent_id: str,
    payment_method: str | None = None,
    idempotency_key: str | None = None,
) -> PaymentIntentSnapshot:
    """Confirm a PaymentIntent server-side (a saved card, an off-session charge).

    The payment method is set with an update and then confirmed, because
    localstripe answers 500 to a confirm carrying ``payment_method``. Raise
    PaymentDeclined when the card is declined, AuthenticationRequired when
    the bank asks for 3-D Secure on a call that cannot show it.
    """
    if payment_method:
        payment_intent_update(
            payment_intent_id=payment_intent_id, payment_method=payment_method
        )
    return PaymentIntentSnapshot.from_stripe(
        _translate(
            lambda: _client().v1.payment_intents.confirm(
                payment_intent_id, options=_options(idempotency_key)
            )
        )
    )


def payment_method_attach(
    *, payment_method_id: str, customer_id: str
) -> PaymentMethodSnapshot:
    """Attach a payment method to a customer so it can be charged again."""
    return PaymentMethodSnapshot.from_stripe(
        _translate(
            lambda: _client().v1.payment_methods.attach(
                payment_method_id, params={"customer": customer_id}
            )
        )
    )


def setup_intent_create(
    *,
    customer_id: str,
    idempotency_key: str,
    metadata: dict[str, str] | None = None,
    usage: str = "off_session",
) -> SetupIntentSnapshot:
    """Create a SetupIntent to save a card for later (off-session) charges."""
    params: SetupIntentCreateParams = {
        "customer": customer_id,
        "payment_method_types": ["card"],
        "metadata": metadata or {},
        "usage": "on_session" if usage == "on_session" else "off_session",
    }
    return SetupIntentSnapshot.from_stripe(
        _translate(
            lambda: _client().v1.setup_intents.create(
                params=params, options=_options(idempotency_key)
            )
        )
    )


def setup_intent_retrieve(*, setup_intent_id: str) -> SetupIntentSnapshot:
    return SetupIntentSnapshot.from_stripe(
        _translate(lambda: _client().v1.setup_intents.retrieve(setup_intent_id))
    )
