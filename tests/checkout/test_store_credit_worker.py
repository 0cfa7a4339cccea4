"""The store-credit saga with a real Celery worker and localstripe (services
pass): the webhook's signal queues finalisation on Redis and another process
captures, releases or compensates. ``wallets_reconcile`` finds no drift."""

import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.billing import signals
from apps.billing.exceptions import PaymentDeclined
from apps.billing.models import Payment, PaymentRefund
from apps.checkout import services
from apps.checkout.models import Order
from apps.checkout.tasks import cancel_abandoned_orders
from apps.core.models import Notification
from apps.inventory import services as inventory_services
from apps.inventory.models import Reservation
from apps.inventory.services import ReservationRequest
from apps.wallets import services as wallet_services
from apps.wallets.models import LedgerEntry, Wallet
from tests.accounts.factories import UserFactory
from tests.checkout.conftest import api_checkout_to_payment, confirm_card
from tests.inventory.factories import VariantFactory

pytestmark = [
    pytest.mark.worker,
    pytest.mark.localstripe,
    pytest.mark.django_db(transaction=True),
]

K = LedgerEntry.Kind


def _wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    return predicate()


def _reconciled() -> bool:
    out = StringIO()
    call_command("wallets_reconcile", stdout=out)
    return "0 drift" in out.getvalue()


def _wallet(user) -> Wallet:
    return Wallet.objects.get(user=user, currency="USD")


def _kinds(user) -> list[str]:
    return list(
        LedgerEntry.objects.filter(wallet__user=user)
        .order_by("pk")
        .values_list("kind", flat=True)
    )


@pytest.fixture
def split(api_client, make_cart, shipping_method, localstripe):
    """Signed in with 15.00 of credit; 2 × 20.00 + 5.00 shipping = 45.00, so
    30.00 by card; payment started."""
    user = UserFactory()
    wallet_services.wallet_credit(
        user=user,
        currency="USD",
        amount_minor=1500,
        kind=K.GOODWILL,
        idempotency_key="goodwill",
    )
    api_client.force_authenticate(user)
    variant = VariantFactory(stock=5, weight_grams=100, price_minor=2000)
    session = api_checkout_to_payment(
        api_client,
        make_cart(lines=((variant, 2),), user=user),
        email=user.email,
        method=shipping_method,
    )
    assert session["amount"]["amount"] == 3000
    return {**session, "user": user, "variant": variant}


def _deliver_succeeded(intent_id: str, event_id: str) -> None:
    payment = Payment.objects.get(intent_id=intent_id)
    signals.payment_succeeded.send(
        sender="billing",
        payment_intent_id=intent_id,
        amount_minor=payment.amount_minor,
        currency=payment.currency,
        metadata={},
        event_id=event_id,
    )


def test_worker_split_payment_succeeds_and_captures_credit(
    localstripe, celery_worker, split
):
    user = split["user"]
    confirm_card(split["payment_intent_id"])

    _deliver_succeeded(split["payment_intent_id"], "evt_split_1")

    order = _wait_for(lambda: Order.objects.filter(status="paid").first())
    assert order is not None, "the worker did not finalise the order"
    assert (order.credit_minor, order.card_minor) == (1500, 3000)
    assert (_wallet(user).balance_minor, _wallet(user).held_minor) == (0, 0)
    assert _kinds(user) == [K.GOODWILL, K.ORDER_HOLD, K.ORDER_CAPTURE]
    assert _reconciled()


def test_worker_card_declined_releases_hold(localstripe, celery_worker, split):
    user = split["user"]
    with pytest.raises(PaymentDeclined):
        confirm_card(split["payment_intent_id"], "4000000000000002")

    signals.payment_failed.send(
        sender="billing",
        payment_intent_id=split["payment_intent_id"],
        amount_minor=3000,
        currency="USD",
        metadata={},
        event_id="evt_declined",
        error_message="Your card was declined.",
    )

    assert Order.objects.get().status == "pending_payment"
    assert (_wallet(user).balance_minor, _wallet(user).held_minor) == (1500, 0)
    assert _kinds(user) == [K.GOODWILL, K.ORDER_HOLD, K.ORDER_RELEASE]
    assert _reconciled()


def test_worker_abandoned_order_expiry_releases_hold(localstripe, celery_worker, split):
    user = split["user"]
    Reservation.objects.filter(status="active").update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )

    cancel_abandoned_orders.delay()

    order = _wait_for(lambda: Order.objects.filter(status="cancelled").first())
    assert order is not None, "the worker did not cancel the abandoned order"
    assert Payment.objects.get().status == "canceled"
    assert (_wallet(user).balance_minor, _wallet(user).held_minor) == (1500, 0)
    assert _kinds(user) == [K.GOODWILL, K.ORDER_HOLD, K.ORDER_RELEASE]
    assert _reconciled()


def test_worker_stock_lost_after_card_succeeded_refunds_card_releases_credit(
    localstripe, celery_worker, split
):
    user, variant = split["user"], split["variant"]
    Reservation.objects.filter(status="active").update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    inventory_services.stock_reserve(
        items=[ReservationRequest(variant.pk, 5)],
        ref="elsewhere",
        ttl=timedelta(minutes=5),
    )
    inventory_services.stock_commit(ref="elsewhere")
    confirm_card(split["payment_intent_id"])

    _deliver_succeeded(split["payment_intent_id"], "evt_race_1")
    _deliver_succeeded(split["payment_intent_id"], "evt_race_2")  # redelivered

    refund = _wait_for(lambda: PaymentRefund.objects.first())
    assert refund is not None, "the worker did not refund the card part"
    assert refund.amount_minor == 3000
    apology = _wait_for(
        lambda: Notification.objects.filter(
            kind="checkout.order_apology", status="sent"
        ).first()
    )
    assert apology is not None
    time.sleep(2)  # the redelivery's run, which must change nothing
    order = Order.objects.get()
    assert (order.status, order.refunded_minor) == ("cancelled", 3000)
    assert PaymentRefund.objects.count() == 1
    assert Notification.objects.filter(kind="checkout.order_apology").count() == 1
    assert (_wallet(user).balance_minor, _wallet(user).held_minor) == (1500, 0)
    assert _kinds(user) == [K.GOODWILL, K.ORDER_HOLD, K.ORDER_RELEASE]
    assert _reconciled()


def test_worker_partial_refund_of_split_order_is_split_credit_first(
    localstripe, celery_worker, split
):
    user = split["user"]
    confirm_card(split["payment_intent_id"])
    _deliver_succeeded(split["payment_intent_id"], "evt_refund_1")
    order = _wait_for(lambda: Order.objects.filter(status="paid").first())
    assert order is not None

    order = services.order_refund(
        order=order, line_quantities={order.lines.get().pk: 1}
    )

    # One unit (20.00): the 15.00 of credit first, then 5.00 to the card.
    assert (order.refunded_minor, order.credit_refunded_minor) == (2000, 1500)
    assert PaymentRefund.objects.get().amount_minor == 500
    assert _wallet(user).balance_minor == 1500
    assert _kinds(user)[-1] == K.REFUND_CREDIT
    email = _wait_for(
        lambda: Notification.objects.filter(
            kind="checkout.order_refunded", status="sent"
        ).first()
    )
    assert email is not None
    assert _reconciled()
