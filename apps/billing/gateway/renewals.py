"""Drive a failed renewal on localstripe, for demos and tests (issue 15).

localstripe never renews by itself; ``billing_simulate_renewal --fail`` uses
these to do what a renewal on a dead card looks like at Stripe: a new default
card that the bank refuses, a new invoice, one charge. Refused on real Stripe
(use a test clock there).
"""

from __future__ import annotations

from apps.billing import gateway
from apps.billing.exceptions import StripeFeatureUnavailable
from apps.billing.gateway.client import _client, _options, _translate
from apps.billing.gateway.testing import card_payment_method_create

# Stripe's "requires authentication, then declined" test card: the renewal
# charge fails (localstripe: it waits for 3-D Secure nobody completes).
CARD_RENEWAL_FAILS = "4000008260003178"
# Attaches fine, declined when charged (a soft decline: card_declined).
CARD_DECLINED_ON_CHARGE = "4000000000000341"


def _localstripe_only(feature: str) -> None:
    if not gateway.is_localstripe():
        raise StripeFeatureUnavailable(feature, host=gateway.api_host())


def customer_default_card_set(*, customer_id: str, number: str) -> str:
    """Attach a test card to the customer and make it the default; return its id."""
    _localstripe_only("Test card numbers from the server")
    method = card_payment_method_create(number=number)
    client = _client()
    _translate(
        lambda: client.v1.payment_methods.attach(
            method.id, params={"customer": customer_id}
        )
    )
    _translate(
        lambda: client.v1.customers.update(
            customer_id,
            params={"invoice_settings": {"default_payment_method": method.id}},
        )
    )
    return method.id


def renewal_invoice_create(
    *, customer_id: str, subscription_id: str, idempotency_key: str
) -> str:
    """Invoice the subscription's next period (not charged yet); return its id."""
    _localstripe_only("Simulated renewals")
    invoice = _translate(
        lambda: _client().v1.invoices.create(
            params={"customer": customer_id, "subscription": subscription_id},
            options=_options(idempotency_key),
        )
    )
    return str(invoice["id"])
