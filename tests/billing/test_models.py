"""PAYMENT_STATES: the transition table for our record of a PaymentIntent."""

import itertools

import pytest

from apps.billing import services
from apps.billing.gateway import IntentStatus
from apps.billing.models import PAYMENT_STATES, Payment
from apps.core.exceptions import InvalidTransition
from tests.billing.factories import PaymentFactory

pytestmark = pytest.mark.django_db

S = IntentStatus
ALLOWED = {
    (source, to)
    for source in (
        S.REQUIRES_PAYMENT_METHOD,
        S.REQUIRES_CONFIRMATION,
        S.REQUIRES_ACTION,
        S.PROCESSING,
    )
    for to in S
    if to != source
} | {(S.REQUIRES_CAPTURE, S.CANCELED), (S.REQUIRES_CAPTURE, S.SUCCEEDED)}


@pytest.mark.parametrize(("source", "to"), list(itertools.product(S, S)))
def test_payment_states_every_pair_moves_or_refuses(source, to):
    payment = PaymentFactory(status=source.value)

    if source == to:
        assert PAYMENT_STATES.move_by_pk(payment.pk, to).status == source
    elif (source, to) in ALLOWED:
        moved = PAYMENT_STATES.move_by_pk(payment.pk, to)
        assert Payment.objects.get(pk=payment.pk).status == to
        assert (moved.succeeded_at is not None) == (to == S.SUCCEEDED)
    else:
        with pytest.raises(InvalidTransition) as exc:
            PAYMENT_STATES.move_by_pk(payment.pk, to)
        assert exc.value.status_code == 409
        assert Payment.objects.get(pk=payment.pk).status == source


@pytest.mark.parametrize("terminal", [S.SUCCEEDED, S.CANCELED])
def test_payment_status_record_late_webhook_after_terminal_is_ignored(terminal):
    payment = PaymentFactory(status=terminal.value)

    recorded = services.payment_status_record(
        intent_id=payment.intent_id,
        status="requires_payment_method",
        error_message="Your card was declined.",
    )

    assert recorded.status == terminal
    fresh = Payment.objects.get(pk=payment.pk)
    assert (fresh.status, fresh.last_error) == (terminal, "")


def test_payment_status_record_success_stamps_succeeded_at():
    payment = PaymentFactory()

    services.payment_status_record(intent_id=payment.intent_id, status=S.SUCCEEDED)

    fresh = Payment.objects.get(pk=payment.pk)
    assert fresh.status == S.SUCCEEDED
    assert fresh.succeeded_at is not None
