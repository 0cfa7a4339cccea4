"""Entering payment (reserve → PaymentIntent → record) and completing it.

No row lock is ever held across a Stripe call: stock is reserved and the
pending order written in one transaction, the intent is created or updated
through billing with no transaction open, and the result recorded after.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, cast

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.billing import gateway
from apps.billing import selectors as billing_selectors
from apps.billing import services as billing_services
from apps.billing.exceptions import PaymentDeclined
from apps.billing.gateway.types import IntentStatus
from apps.carts import services as cart_services
from apps.checkout.exceptions import (
    CheckoutIncomplete,
    PaymentIncomplete,
    ShippingMethodLapsed,
)
from apps.checkout.models import Checkout, Order
from apps.checkout.services.checkout import (
    S,
    checkout_move_locked,
    checkout_next_step,
)
from apps.checkout.services.order_placement import order_place_pending
from apps.checkout.services.payment_outcome import (
    order_paid_by_credit,
    order_payment_canceled,
    order_payment_succeeded,
)
from apps.checkout.services.pricing import PricingReads, Totals, checkout_totals
from apps.checkout.services.store_credit import (
    order_credit_hold,
    order_credit_release,
)
from apps.core.audit import audit_log
from apps.core.exceptions import InvalidTransition
from apps.inventory import selectors as inventory_selectors
from apps.inventory import services as inventory_services
from apps.inventory.exceptions import OutOfStock
from apps.inventory.models import Reservation
from apps.inventory.services import ReservationRequest

if TYPE_CHECKING:
    from django.http import HttpRequest

RESERVATION_TTL = timedelta(minutes=15)
# An active shopper's hold is renewed at most once a minute (not on every hit).
RESERVATION_RENEW_AFTER = timedelta(minutes=1)
PAYABLE = {S.PAYMENT, S.REVIEW, S.PAYMENT_FAILED}


@dataclass(frozen=True, slots=True)
class PaymentSession:
    order: Order
    payment_intent_id: str
    client_secret: str
    amount_minor: int
    currency: str
    publishable_key: str
    status: str


def publishable_key() -> str:
    if settings.STRIPE_LIVE_MODE:
        return settings.STRIPE_LIVE_PUBLIC_KEY
    return settings.STRIPE_TEST_PUBLIC_KEY


def checkout_payment_start(
    *, checkout: Checkout, request: HttpRequest | None = None
) -> PaymentSession:
    """Reserve the cart's stock, write the pending order, and get its intent.

    Safe to call again (renews the hold, refreshes the order, and updates the
    same intent if the total changed). The cart is locked in the same
    transaction that prices it: from then on what is charged cannot change
    until ``checkout_change_cart``. Raise OutOfStock (details name the lines),
    ShippingMethodLapsed (409) when the chosen method no longer quotes,
    CheckoutIncomplete, InvalidTransition, PaymentProviderError, and
    InsufficientCredit when the store credit chosen is no longer there.

    Store credit is held in the same transaction as the stock; the intent
    is for the card part only. An order credit pays in full has no intent
    and is finalised at once (its session has no client secret).
    """
    with transaction.atomic():
        # PostgreSQL cannot lock the nullable side of an outer join: lock the
        # checkout and its cart (edits of the cart queue behind this).
        checkout = (
            Checkout.objects.select_for_update(of=("self", "cart"))
            .select_related("cart", "shipping_method", "user")
            .get(pk=checkout.pk)
        )
        if checkout.state in (S.PROCESSING, S.COMPLETED):
            raise InvalidTransition(
                f"This checkout is {checkout.state}.",
                details={"from": checkout.state, "to": S.PAYMENT},
            )
        reads = PricingReads()
        totals = checkout_totals(checkout=checkout, reads=reads)
        if totals.shipping_method_lapsed:
            name = checkout.shipping_method.name if checkout.shipping_method else ""
            raise ShippingMethodLapsed(
                f"{name or 'The chosen delivery method'} no longer applies to "
                "this cart and address: choose a delivery method again.",
                details={"next_step": S.SHIPPING_METHOD},
            )
        missing = checkout_next_step(
            checkout, requires_shipping=totals.requires_shipping
        )
        if missing != S.PAYMENT:
            raise CheckoutIncomplete(
                f"Complete the {missing.replace('_', ' ')} step first.",
                details={"next_step": missing},
            )
        inventory_services.stock_reserve(
            items=[
                ReservationRequest(line.variant_id, line.quantity)
                for line in totals.view.lines
            ],
            ref=checkout.reservation_ref,
            ttl=RESERVATION_TTL,
            # Its errors leave this transaction (nothing here catches them),
            # which rolls back as a whole: a savepoint would buy nothing.
            savepoint=False,
            # Read with the lines just now, in this transaction.
            variants=reads.variants(),
        )
        # Payment never started (the fingerprint is set with the first
        # order): no order and no intent yet, nothing to look up.
        first = not checkout.totals_fingerprint
        fingerprint = totals.fingerprint()
        changed = []
        if fingerprint != checkout.totals_fingerprint:
            if checkout.totals_fingerprint:
                checkout.totals_version += 1
            checkout.totals_fingerprint = fingerprint
            changed = ["totals_version", "totals_fingerprint"]
        order = order_place_pending(checkout=checkout, totals=totals, first=first)
        order_credit_hold(order=order, totals=totals)
        cart_services.cart_payment_lock(cart_id=checkout.cart_id)
        # One UPDATE of the checkout: the new fingerprint rides on the move.
        moved = checkout.state == S.PAYMENT and checkout_move_locked(
            checkout, S.REVIEW, also_update=changed
        )
        if changed and not moved:
            checkout.save(update_fields=[*changed, "updated_at"])
        # Per order too: after a cancelled order the checkout gets a new
        # order, whose intent must not be Stripe's replay of the cancelled one.
        key = f"checkout:{checkout.pk}:{order.number}:v{checkout.totals_version}"
    if order.credit_minor and not order.card_minor:
        return _pay_by_credit(order, request=request)
    # No transaction from here: Stripe.
    payment = billing_services.payment_intent_ensure(
        reference=order.number,
        amount_minor=order.card_minor,
        currency=order.currency,
        idempotency_key=key,
        metadata={"order_number": order.number, "checkout_id": str(checkout.pk)},
        new_reference=first,
    )
    audit_log(
        action="payment_initiated",
        request=request,
        obj=order,
        data={"intent": payment.intent_id, "amount_minor": payment.amount_minor},
    )
    return PaymentSession(
        order=order,
        payment_intent_id=payment.intent_id,
        client_secret=payment.client_secret,
        amount_minor=payment.amount_minor,
        currency=payment.currency,
        publishable_key=publishable_key(),
        status=payment.status,
    )


def _pay_by_credit(order: Order, *, request: HttpRequest | None) -> PaymentSession:
    """Finalise an order store credit pays in full. An intent opened for it
    before the shopper chose more credit is cancelled first, so it can never
    be charged too. Raise InvalidTransition while that intent is processing.
    """
    earlier = billing_selectors.payment_latest_for_reference(reference=order.number)
    if earlier is not None and earlier.status != IntentStatus.CANCELED:
        earlier = billing_services.payment_cancel(payment=earlier)
        if earlier.status != IntentStatus.CANCELED:
            raise InvalidTransition(
                "A card payment for this order is under way; try again shortly.",
                details={"from": earlier.status},
            )
    order = order_paid_by_credit(order_id=order.pk, request=request)
    return PaymentSession(
        order=order,
        payment_intent_id="",
        client_secret="",
        amount_minor=0,
        currency=order.currency,
        publishable_key=publishable_key(),
        status=IntentStatus.SUCCEEDED,
    )


def checkout_payment_session(
    *, checkout: Checkout, totals: Totals
) -> PaymentSession | None:
    """Return the started payment the card form may confirm, reading only.

    None when no payment was started, it is no longer open, or it no longer
    matches what the checkout shows now (a step was changed, prices moved):
    payment must then be started again, which re-prices it.
    """
    if checkout.state not in (S.REVIEW, S.PAYMENT_FAILED):
        return None
    if not checkout.totals_fingerprint or (
        totals.fingerprint() != checkout.totals_fingerprint
    ):
        return None
    order = Order.objects.filter(
        checkout_id=checkout.pk, status=Order.Status.PENDING_PAYMENT
    ).first()
    if order is None or order.total_minor != totals.total_minor:
        return None
    if order.credit_minor and not order.card_minor:
        return None  # nothing to pay by card
    payment = billing_selectors.payment_latest_for_reference(reference=order.number)
    if payment is None or not payment.is_open:
        return None
    if (payment.amount_minor, payment.currency.upper()) != (
        order.card_minor,
        order.currency.upper(),
    ):
        return None
    return PaymentSession(
        order=order,
        payment_intent_id=payment.intent_id,
        client_secret=payment.client_secret,
        amount_minor=payment.amount_minor,
        currency=payment.currency,
        publishable_key=publishable_key(),
        status=payment.status,
    )


def checkout_change_cart(
    *, checkout: Checkout, request: HttpRequest | None = None
) -> Checkout:
    """Cancel the started payment so the shopper can change the cart again.

    The open PaymentIntent is cancelled at Stripe first, with no lock held, so
    it can never be charged; then its pending order is cancelled and the stock
    released (as for Stripe's ``payment_intent.canceled``), the cart unlocked
    and the checkout put back on its step before payment. Safe to repeat.
    Raise InvalidTransition when the payment succeeded or is processing (the
    paid order is finalised), or when a new payment started meanwhile.
    """
    order = Order.objects.filter(checkout_id=checkout.pk).first()
    if order is not None and order.status not in (
        Order.Status.PENDING_PAYMENT,
        Order.Status.CANCELLED,
    ):
        raise InvalidTransition(
            "This checkout is paid; its cart can no longer change.",
            details={"from": order.status},
        )
    payment = (
        billing_selectors.payment_latest_for_reference(reference=order.number)
        if order is not None and order.status == Order.Status.PENDING_PAYMENT
        else None
    )
    if payment is not None and payment.status != IntentStatus.CANCELED:
        # Stripe's word, not the stored status: the card may have gone
        # through a moment ago.
        payment = billing_services.payment_sync(
            intent_id=payment.intent_id, payment=payment
        )
        if payment.is_open:
            payment = billing_services.payment_cancel(payment=payment)
        if payment.status == IntentStatus.SUCCEEDED:
            order_payment_succeeded(
                intent_id=payment.intent_id, source="change_cart", payment=payment
            )
            raise InvalidTransition(
                "This payment went through; the cart can no longer change.",
                details={"from": IntentStatus.SUCCEEDED},
            )
        if payment.status != IntentStatus.CANCELED:
            raise InvalidTransition(
                "The payment is being processed; the cart cannot change now.",
                details={"from": payment.status},
            )
        order_payment_canceled(
            intent_id=payment.intent_id, source="change_cart", reason="cart changed"
        )
    with transaction.atomic():
        locked = (
            Checkout.objects.select_for_update(of=("self",))
            .select_related("cart")
            .get(pk=checkout.pk)
        )
        pending = Order.objects.filter(
            checkout_id=locked.pk, status=Order.Status.PENDING_PAYMENT
        ).first()
        latest = (
            billing_selectors.payment_latest_for_reference(reference=pending.number)
            if pending is not None
            else None
        )
        if latest is not None and latest.status != IntentStatus.CANCELED:
            raise InvalidTransition(
                "A payment was started again meanwhile; try again.",
                details={"from": latest.status},
            )
        inventory_services.stock_release(ref=locked.reservation_ref)
        if pending is not None:
            order_credit_release(order=pending)
        cart_services.cart_payment_unlock(cart_id=locked.cart_id)
        if locked.state in (S.REVIEW, S.PAYMENT_FAILED):
            checkout_move_locked(locked, S.PAYMENT)
    audit_log(
        action="checkout_cart_unlocked",
        request=request,
        obj=locked,
        data={"intent": payment.intent_id if payment else None},
    )
    return locked


def checkout_hold_renew(*, checkout: Checkout) -> bool:
    """Extend the stock hold of a shopper still active in checkout.

    Called on every checkout step hit; renews (to now + RESERVATION_TTL) a hold
    that is still active and was made more than RESERVATION_RENEW_AFTER ago.
    An expired hold is not revived here: entering payment reserves again with
    an availability check. The pending order is locked, so a renewal cannot
    race finalisation into a hold for units already sold. Return whether the
    hold was renewed.
    """
    if not checkout.totals_fingerprint:
        # Set when payment starts, with the pending order and its hold: no
        # fingerprint, no hold to renew.
        return False
    now = timezone.now()
    with transaction.atomic():
        order = (
            Order.objects.select_for_update(of=("self",))
            .filter(checkout_id=checkout.pk, status=Order.Status.PENDING_PAYMENT)
            .first()
        )
        if order is None:
            return False
        holds = list(
            inventory_selectors.reservations_for_ref(
                ref=checkout.reservation_ref
            ).filter(status=Reservation.Status.ACTIVE, expires_at__gt=now)
        )
        fresh = now + RESERVATION_TTL - RESERVATION_RENEW_AFTER
        if not holds or min(h.expires_at for h in holds) > fresh:
            return False
        try:
            inventory_services.stock_reserve(
                items=[ReservationRequest(h.variant_id, h.quantity) for h in holds],
                ref=checkout.reservation_ref,
                ttl=RESERVATION_TTL,
            )
        except OutOfStock:
            return False  # stock was adjusted below the hold: payment will say
    return True


def checkout_complete(
    *,
    checkout: Checkout,
    source: str = "complete",
    request: HttpRequest | None = None,
) -> Order:
    """After the client confirmed: re-fetch the intent and finalise if paid.

    Raise PaymentDeclined with Stripe's message (checkout → payment_failed),
    PaymentIncomplete while 3-D Secure or a card is still needed,
    InvalidTransition when no payment was started.
    """
    payment = billing_selectors.payment_latest_for_references(
        references=Order.objects.filter(checkout_id=checkout.pk).values("number")
    )
    if payment is None:
        order = Order.objects.filter(checkout_id=checkout.pk).first()
        if order is None or order.status == Order.Status.PENDING_PAYMENT:
            raise InvalidTransition(
                "No payment was started for this checkout.",
                details={"from": checkout.state, "to": S.PROCESSING},
            )
        return order
    if payment.status != IntentStatus.SUCCEEDED:
        # A webhook may have recorded the success already; otherwise ask Stripe.
        payment = billing_services.payment_sync(
            intent_id=payment.intent_id, payment=payment
        )
    if payment.status == IntentStatus.SUCCEEDED:
        # Finalises a pending order once; returns a paid one unchanged. Never
        # None here: the payment was found through this checkout's order.
        return cast(
            Order,
            order_payment_succeeded(
                intent_id=payment.intent_id,
                source=source,
                request=request,
                payment=payment,
            ),
        )
    order = Order.objects.get(number=payment.reference)
    if order.status != Order.Status.PENDING_PAYMENT:
        return order
    if payment.status == IntentStatus.PROCESSING:
        return order
    if payment.last_error and payment.status == IntentStatus.REQUIRES_PAYMENT_METHOD:
        with transaction.atomic():
            locked = Checkout.objects.select_for_update().get(pk=checkout.pk)
            # Declined: the credit goes back until the shopper pays again.
            order_credit_release(order=order)
            if locked.state in (S.REVIEW, S.PROCESSING):
                locked.last_error = payment.last_error
                checkout_move_locked(
                    locked, S.PAYMENT_FAILED, also_update=["last_error"]
                )
        audit_log(
            action="payment_failed",
            request=request,
            obj=order,
            data={"intent": payment.intent_id, "error": payment.last_error},
        )
        raise PaymentDeclined(
            payment.last_error,
            code="card_declined",
            details={"payment_intent": payment.intent_id},
        )
    raise PaymentIncomplete(
        "The payment is not complete yet.",
        details={"status": payment.status, "payment_intent": payment.intent_id},
    )


def payment_confirm_for_tests(
    *, intent_id: str, card_number: str
) -> gateway.PaymentIntentSnapshot:
    """Confirm an intent server-side as a mobile SDK would (tests, demos)."""
    from apps.billing.gateway import testing

    return testing.payment_intent_confirm_with_test_card(
        payment_intent_id=intent_id, card_number=card_number
    )
