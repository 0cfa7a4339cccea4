"""Every real checkout state change goes through the transition table.

The every-pair test in test_services.py proves the table; these prove that
payment start, a decline and finalisation use it (no direct state writes):
with the edge they need removed from the table, each is refused.
"""

import pytest

from apps.checkout import services
from apps.checkout.models import CHECKOUT_TRANSITIONS, Checkout, Order
from apps.checkout.services import checkout as checkout_module
from apps.checkout.services import payment_outcome
from apps.core.exceptions import InvalidTransition
from tests.checkout.conftest import api_checkout_to_payment, confirm_card

pytestmark = [pytest.mark.django_db, pytest.mark.localstripe]
S = Checkout.State


@pytest.fixture
def moves(monkeypatch):
    """Record every (from, to) the shared locked helper applies."""
    seen: list[tuple[str, str]] = []
    real = checkout_module.checkout_move_locked

    def spy(checkout, to, **kwargs):
        before = checkout.state
        moved = real(checkout, to, **kwargs)
        if moved:
            seen.append((before, to))
        return moved

    for module in ("checkout", "payment_outcome", "payments"):
        monkeypatch.setattr(
            f"apps.checkout.services.{module}.checkout_move_locked", spy
        )
    return seen


def test_finalisation_from_review_completes_the_checkout(
    api_client, make_cart, shipping_method, localstripe
):
    session = api_checkout_to_payment(api_client, make_cart(), method=shipping_method)
    confirm_card(session["payment_intent_id"])

    order = services.checkout_complete(
        checkout=Checkout.objects.get(pk=session["checkout_id"])
    )

    assert order.status == Order.Status.PAID
    assert Checkout.objects.get().state == S.COMPLETED


def test_finalisation_from_a_state_the_table_cannot_route_through_processing(
    api_client, make_cart, shipping_method, localstripe, monkeypatch
):
    session = api_checkout_to_payment(api_client, make_cart(), method=shipping_method)
    confirm_card(session["payment_intent_id"])
    monkeypatch.setitem(
        CHECKOUT_TRANSITIONS, S.REVIEW, CHECKOUT_TRANSITIONS[S.REVIEW] - {S.PROCESSING}
    )

    with pytest.raises(InvalidTransition):
        services.checkout_complete(
            checkout=Checkout.objects.get(pk=session["checkout_id"])
        )

    assert Order.objects.get().status == Order.Status.PENDING_PAYMENT
    assert Checkout.objects.get().state == S.REVIEW


def test_finalisation_without_processing_to_completed_edge_is_refused(
    api_client, make_cart, shipping_method, localstripe, monkeypatch
):
    session = api_checkout_to_payment(api_client, make_cart(), method=shipping_method)
    confirm_card(session["payment_intent_id"])
    monkeypatch.setitem(CHECKOUT_TRANSITIONS, S.PROCESSING, set())

    with pytest.raises(InvalidTransition):
        services.checkout_complete(
            checkout=Checkout.objects.get(pk=session["checkout_id"])
        )

    # The order's transaction rolled back with it: still awaiting payment.
    assert Order.objects.get().status == Order.Status.PENDING_PAYMENT
    assert Checkout.objects.get().state == S.REVIEW


def test_payment_start_without_payment_to_review_edge_is_refused(
    api_client, make_cart, shipping_method, localstripe, monkeypatch
):
    monkeypatch.setitem(
        CHECKOUT_TRANSITIONS, S.PAYMENT, CHECKOUT_TRANSITIONS[S.PAYMENT] - {S.REVIEW}
    )
    with pytest.raises(AssertionError, match="invalid_state_transition"):
        api_checkout_to_payment(api_client, make_cart(), method=shipping_method)


def test_decline_moves_review_to_payment_failed_through_table(
    api_client, make_cart, shipping_method, localstripe, moves
):
    session = api_checkout_to_payment(api_client, make_cart(), method=shipping_method)
    with pytest.raises(Exception):  # noqa: B017, PT011 - the SDK sees the decline
        confirm_card(session["payment_intent_id"], "4000000000000002")
    moves.clear()

    r = api_client.post(
        f"/api/v1/checkouts/{session['checkout_id']}/complete/", format="json"
    )

    assert r.status_code == 402
    assert moves == [(S.REVIEW, S.PAYMENT_FAILED)]
    checkout = Checkout.objects.get()
    assert checkout.state == S.PAYMENT_FAILED
    assert checkout.last_error == "Your card was declined."


def test_payment_failed_webhook_moves_through_table(
    api_client, make_cart, shipping_method, localstripe, moves
):
    session = api_checkout_to_payment(api_client, make_cart(), method=shipping_method)
    moves.clear()

    payment_outcome.order_payment_failed(
        intent_id=session["payment_intent_id"], error_message="Card expired."
    )

    assert moves == [(S.REVIEW, S.PAYMENT_FAILED)]
    assert Checkout.objects.get().last_error == "Card expired."
