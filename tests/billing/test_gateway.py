"""The Stripe gateway against localstripe (a real fake Stripe server)."""

import uuid

import pytest

from apps.billing import gateway
from apps.billing.exceptions import (
    PaymentDeclined,
    PaymentProviderError,
    PaymentRequestInvalid,
    StripeFeatureUnavailable,
    TransientError,
)
from apps.billing.gateway import IntentStatus, RefundStatus, testing
from tests.conftest import free_port

pytestmark = [pytest.mark.localstripe, pytest.mark.django_db]


def new_key() -> str:
    return str(uuid.uuid4())


def create_intent(amount_minor=1999, **kwargs):
    return gateway.payment_intent_create(
        amount_minor=amount_minor,
        currency=kwargs.pop("currency", "EUR"),
        idempotency_key=new_key(),
        **kwargs,
    )


def test_payment_intent_create_returns_unconfirmed_intent_in_minor_units(
    localstripe,
):
    intent = create_intent(1999, metadata={"order_id": "7"})

    assert intent.id.startswith("pi_")
    assert intent.amount_minor == 1999
    assert intent.currency == "EUR"
    assert intent.metadata["order_id"] == "7"
    assert intent.status is IntentStatus.REQUIRES_PAYMENT_METHOD
    assert intent.client_secret.startswith(f"{intent.id}_secret_")


def test_payment_intent_create_for_customer_links_customer(localstripe):
    customer = gateway.customer_create(email="c@example.com", idempotency_key=new_key())

    intent = create_intent(customer=customer.id)

    assert gateway.payment_intent_retrieve(payment_intent_id=intent.id).customer == (
        customer.id
    )


def test_payment_intent_create_same_idempotency_key_returns_same_intent(
    localstripe,
):
    key = new_key()

    first = gateway.payment_intent_create(
        amount_minor=500, currency="EUR", idempotency_key=key
    )
    second = gateway.payment_intent_create(
        amount_minor=500, currency="EUR", idempotency_key=key
    )
    other = gateway.payment_intent_create(
        amount_minor=500, currency="EUR", idempotency_key=new_key()
    )

    assert second.id == first.id
    assert other.id != first.id


def test_payment_intent_update_changes_amount_and_metadata(localstripe):
    intent = create_intent(1000)

    gateway.payment_intent_update(
        payment_intent_id=intent.id, amount_minor=1500, metadata={"cart": "9"}
    )

    fetched = gateway.payment_intent_retrieve(payment_intent_id=intent.id)
    assert fetched.amount_minor == 1500
    assert fetched.metadata["cart"] == "9"


def test_payment_intent_cancel_marks_intent_canceled(localstripe):
    intent = create_intent()

    gateway.payment_intent_cancel(payment_intent_id=intent.id)

    fetched = gateway.payment_intent_retrieve(payment_intent_id=intent.id)
    assert fetched.status == "canceled"


def test_payment_intent_confirm_good_card_succeeds(localstripe):
    intent = create_intent(2500)

    confirmed = testing.payment_intent_confirm_with_test_card(
        payment_intent_id=intent.id, card_number="4242424242424242"
    )

    assert confirmed.status == "succeeded"
    assert confirmed.latest_charge


def test_payment_intent_confirm_declined_card_raises_payment_declined(
    localstripe,
):
    intent = create_intent(2500)

    with pytest.raises(PaymentDeclined) as exc:
        testing.payment_intent_confirm_with_test_card(
            payment_intent_id=intent.id, card_number="4000000000000002"
        )

    assert exc.value.message == "Your card was declined."
    assert exc.value.code == "card_declined"
    assert exc.value.status_code == 402
    fetched = gateway.payment_intent_retrieve(payment_intent_id=intent.id)
    assert fetched.status == "requires_payment_method"


def test_payment_intent_confirm_after_decline_with_other_card_succeeds(
    localstripe,
):
    intent = create_intent(2500)
    with pytest.raises(PaymentDeclined):
        testing.payment_intent_confirm_with_test_card(
            payment_intent_id=intent.id, card_number="4000000000000002"
        )

    confirmed = testing.payment_intent_confirm_with_test_card(
        payment_intent_id=intent.id, card_number="4242424242424242"
    )

    assert confirmed.status == "succeeded"


def test_payment_intent_confirm_3ds_card_requires_action(localstripe):
    intent = create_intent(2500)

    confirmed = testing.payment_intent_confirm_with_test_card(
        payment_intent_id=intent.id, card_number="4000002500003155"
    )

    assert confirmed.status == "requires_action"


def test_payment_intent_retrieve_unknown_id_raises_request_invalid(localstripe):
    with pytest.raises(PaymentRequestInvalid) as exc:
        gateway.payment_intent_retrieve(payment_intent_id="pi_doesnotexist")

    assert exc.value.code == "payment_request_invalid"
    assert exc.value.status_code == 502
    assert exc.value.details["http_status"] == 404


def paid_intent(amount_minor):
    intent = create_intent(amount_minor)
    testing.payment_intent_confirm_with_test_card(
        payment_intent_id=intent.id, card_number="4242424242424242"
    )
    return intent


def test_refund_create_partial_amount_refunds_that_amount(localstripe):
    intent = paid_intent(3000)

    refund = gateway.refund_create(
        payment_intent_id=intent.id, amount_minor=1000, idempotency_key=new_key()
    )

    assert refund.status is RefundStatus.SUCCEEDED
    assert refund.amount_minor == 1000
    assert refund.currency == "EUR"
    assert refund.payment_intent == intent.id


def test_refund_create_without_amount_refunds_everything(localstripe):
    intent = paid_intent(3000)

    refund = gateway.refund_create(
        payment_intent_id=intent.id, idempotency_key=new_key()
    )

    assert refund.amount_minor == 3000


def test_refund_create_same_idempotency_key_refunds_once(localstripe):
    intent = paid_intent(3000)
    key = new_key()

    first = gateway.refund_create(
        payment_intent_id=intent.id, amount_minor=500, idempotency_key=key
    )
    second = gateway.refund_create(
        payment_intent_id=intent.id, amount_minor=500, idempotency_key=key
    )

    assert second.id == first.id


def test_refund_create_unpaid_intent_raises_provider_error(localstripe):
    intent = create_intent(3000)
    with pytest.raises(PaymentDeclined):
        testing.payment_intent_confirm_with_test_card(
            payment_intent_id=intent.id, card_number="4000000000000002"
        )

    with pytest.raises(PaymentProviderError, match="Cannot refund a failed payment"):
        gateway.refund_create(payment_intent_id=intent.id, idempotency_key=new_key())


def test_gateway_unreachable_server_raises_transient_error(settings):
    settings.STRIPE_API_HOST = f"http://127.0.0.1:{free_port()}"

    with pytest.raises(TransientError):
        gateway.customer_create(email="x@example.com", idempotency_key=new_key())


@pytest.mark.parametrize(
    ("call", "feature"),
    [
        (
            lambda: gateway.price_create(
                product="prod_x",
                unit_amount_minor=999,
                currency="EUR",
                recurring_interval="month",
                idempotency_key="k",
            ),
            "Prices API",
        ),
        (
            lambda: gateway.checkout_session_create(
                mode="payment",
                line_items=[{"price": "price_x", "quantity": 1}],
                success_url="http://testserver/ok",
                cancel_url="http://testserver/cancel",
                idempotency_key="k",
            ),
            "Checkout Sessions API",
        ),
        (
            lambda: gateway.billing_portal_session_create(
                customer="cus_x", return_url="http://testserver/"
            ),
            "Billing Portal API",
        ),
        (
            lambda: gateway.webhook_endpoint_create(url="http://testserver/hook"),
            "Webhook Endpoints API",
        ),
    ],
)
def test_feature_missing_on_localstripe_raises_stripe_feature_unavailable(
    localstripe, call, feature
):
    with pytest.raises(StripeFeatureUnavailable) as exc:
        call()

    assert feature in exc.value.message
    assert exc.value.code == "stripe_feature_unavailable"
    assert exc.value.details == {"feature": feature, "host": localstripe}
