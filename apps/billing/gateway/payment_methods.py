"""A subscriber's card: read it, and make a confirmed one the default.

A SetupIntent confirmed by the browser (or a mobile SDK) leaves a payment
method; this module makes it what the subscription's invoices charge. Stripe
attaches the card to the SetupIntent's customer on confirmation; localstripe
does not, and has no ``default_payment_method`` on subscriptions (its
invoices charge the customer's default), so both differences are hidden here.
"""

from __future__ import annotations

from apps.billing import gateway
from apps.billing.gateway.client import _client, _options, _translate
from apps.billing.gateway.customers import customer_update
from apps.billing.gateway.intents import payment_method_attach
from apps.billing.gateway.types import PaymentMethodSnapshot


def payment_method_retrieve(*, payment_method_id: str) -> PaymentMethodSnapshot:
    return PaymentMethodSnapshot.from_stripe(
        _translate(lambda: _client().v1.payment_methods.retrieve(payment_method_id))
    )


def subscription_default_payment_method_set(
    *,
    customer_id: str,
    subscription_id: str,
    payment_method_id: str,
    idempotency_key: str,
) -> PaymentMethodSnapshot:
    """Charge ``payment_method_id`` for the subscription's next invoices.

    Sets it as the customer's invoice default too, so a retried invoice and a
    later subscription use the same card. Return the card (brand, last 4).
    """
    method = payment_method_retrieve(payment_method_id=payment_method_id)
    if method.customer != customer_id:
        method = payment_method_attach(
            payment_method_id=payment_method_id, customer_id=customer_id
        )
    customer_update(customer_id=customer_id, default_payment_method=method.id)
    if not gateway.is_localstripe():
        _translate(
            lambda: _client().v1.subscriptions.update(
                subscription_id,
                params={"default_payment_method": method.id},
                options=_options(idempotency_key),
            )
        )
    return method
