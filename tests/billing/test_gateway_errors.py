"""Stripe's errors become the shop's, with stable codes (against localstripe)."""

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import stripe

from apps.billing import gateway
from apps.billing.exceptions import (
    AuthenticationRequired,
    PaymentDeclined,
    PaymentProviderError,
    PaymentRequestInvalid,
    TransientError,
)
from apps.billing.gateway import IntentStatus, testing
from apps.billing.gateway.client import _translate
from tests.conftest import free_port

pytestmark = [pytest.mark.localstripe, pytest.mark.django_db]


def intent():
    return gateway.payment_intent_create(
        amount_minor=900, currency="EUR", idempotency_key=str(uuid.uuid4())
    )


def test_translate_declined_card_raises_payment_declined_402(localstripe):
    created = intent()

    with pytest.raises(PaymentDeclined) as exc:
        testing.payment_intent_confirm_with_test_card(
            payment_intent_id=created.id, card_number=testing.CARD_DECLINED
        )

    assert type(exc.value) is PaymentDeclined
    assert (exc.value.code, exc.value.status_code) == ("card_declined", 402)
    assert exc.value.details["decline_code"] == "card_declined"


def test_translate_3ds_card_on_session_leaves_intent_requiring_action(localstripe):
    created = intent()

    confirmed = testing.payment_intent_confirm_with_test_card(
        payment_intent_id=created.id, card_number=testing.CARD_3DS_REQUIRED
    )

    assert confirmed.status is IntentStatus.REQUIRES_ACTION
    assert confirmed.is_open is True


def test_translate_authentication_required_raises_authentication_required():
    # localstripe never answers authentication_required (it always offers the
    # 3-D Secure step instead), so this one is the stripe library's own error.
    error = stripe.CardError(
        "This payment requires authentication.",
        param=None,
        code="authentication_required",
        http_status=402,
    )

    def call():
        raise error

    with pytest.raises(AuthenticationRequired) as exc:
        _translate(call)

    assert isinstance(exc.value, PaymentDeclined)
    assert (exc.value.code, exc.value.status_code) == ("authentication_required", 402)


def test_translate_unknown_object_raises_request_invalid(localstripe):
    with pytest.raises(PaymentRequestInvalid) as exc:
        gateway.refund_retrieve(refund_id="re_doesnotexist")

    assert isinstance(exc.value, PaymentProviderError)
    assert exc.value.code == "payment_request_invalid"
    assert exc.value.details["http_status"] == 404


@pytest.fixture
def stripe_answering_503(settings):
    """A server that answers every request 503, as Stripe does in an outage.

    localstripe has no way to fail like that, so this stub stands in for it.
    """

    class Handler(BaseHTTPRequestHandler):
        def _answer(self):
            body = json.dumps(
                {"error": {"type": "api_error", "message": "Try again later."}}
            ).encode()
            self.send_response(503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.STRIPE_API_HOST = f"http://127.0.0.1:{server.server_port}"
    yield
    server.shutdown()


def test_translate_server_error_raises_transient(stripe_answering_503):
    with pytest.raises(TransientError) as exc:
        gateway.customer_retrieve(customer_id="cus_any")

    assert exc.value.code == "payment_provider_unavailable"
    assert "503" in str(exc.value)


def test_translate_unreachable_server_raises_transient(settings):
    settings.STRIPE_API_HOST = f"http://127.0.0.1:{free_port()}"

    with pytest.raises(TransientError):
        gateway.setup_intent_retrieve(setup_intent_id="seti_any")


def test_translate_idempotency_key_reused_with_other_params_raises_invalid():
    # The shape Stripe gives a key reused with other parameters (400); a key
    # still in flight is a 409 and worth retrying.
    reused = stripe.IdempotencyError("Keys can only be used once.", http_status=400)
    in_flight = stripe.IdempotencyError("In progress.", http_status=409)

    def raising(error):
        def call():
            raise error

        return call

    with pytest.raises(PaymentRequestInvalid):
        _translate(raising(reused))
    with pytest.raises(TransientError):
        _translate(raising(in_flight))
