"""apps.billing.gateway.invoices against localstripe: one charge per call."""

import pytest

from apps.billing.exceptions import AuthenticationRequired, PaymentDeclined
from apps.billing.gateway import invoices, renewals
from apps.billing.gateway.testing import CARD_3DS_REQUIRED, CARD_OK
from apps.subscriptions.models import Customer
from tests.dunning.conftest import active  # noqa: F401
from tests.subscriptions.conftest import pushed_price  # noqa: F401

pytestmark = [pytest.mark.localstripe, pytest.mark.django_db]


def _open_invoice(sub, card):
    customer = Customer.objects.get(user_id=sub.user_id).stripe_id
    renewals.customer_default_card_set(customer_id=customer, number=card)
    return renewals.renewal_invoice_create(
        customer_id=customer, subscription_id=sub.stripe_id, idempotency_key=""
    )


def test_invoice_pay_with_a_good_card_returns_it_paid_and_replays_by_key(active):  # noqa: F811
    invoice_id = _open_invoice(active, CARD_OK)

    paid = invoices.invoice_pay(invoice_id=invoice_id, idempotency_key="k1")
    again = invoices.invoice_pay(invoice_id=invoice_id, idempotency_key="k1")
    other_key = invoices.invoice_pay(invoice_id=invoice_id, idempotency_key="k2")

    assert paid.invoice_status == "paid"
    assert paid.payment_intent_status == "succeeded"
    assert again == paid
    assert other_key.invoice_status == "paid"  # already paid: nothing charged


def test_invoice_pay_declined_raises_with_the_decline_code(active):  # noqa: F811
    invoice_id = _open_invoice(active, renewals.CARD_DECLINED_ON_CHARGE)

    with pytest.raises(PaymentDeclined) as exc:
        invoices.invoice_pay(invoice_id=invoice_id, idempotency_key="d1")

    assert not isinstance(exc.value, AuthenticationRequired)
    assert exc.value.details["decline_code"] == "generic_decline"
    assert (
        invoices.invoice_payment_retrieve(invoice_id=invoice_id).invoice_status
        == "open"
    )


def test_invoice_pay_needing_3ds_raises_authentication_required(active):  # noqa: F811
    invoice_id = _open_invoice(active, CARD_3DS_REQUIRED)

    with pytest.raises(AuthenticationRequired) as exc:
        invoices.invoice_pay(invoice_id=invoice_id, idempotency_key="a1")

    snap = invoices.invoice_payment_retrieve(invoice_id=invoice_id)
    assert exc.value.details["payment_intent"] == snap.payment_intent_id
    assert snap.payment_intent_status == "requires_action"
    assert snap.client_secret.startswith(snap.payment_intent_id)
