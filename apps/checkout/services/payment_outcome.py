"""What a payment's outcome does to its order: paid exactly once (stock
committed, coupons redeemed, cart and checkout closed), failed, or cancelled."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Prefetch

from apps.billing import selectors as billing_selectors
from apps.billing import services as billing_services
from apps.billing.gateway.types import IntentStatus
from apps.carts import services as cart_services
from apps.checkout.exceptions import PaymentAmountMismatch
from apps.checkout.models import (
    CHECKOUT_STATES,
    ORDER_STATES,
    Checkout,
    Order,
    OrderLine,
)
from apps.checkout.services.checkout import checkout_move_locked
from apps.checkout.services.compensation import order_compensate
from apps.checkout.services.coupon_redemption import _redeem_coupons
from apps.checkout.services.customer_messages import order_confirmation_send
from apps.checkout.services.gift_cards import order_gift_cards_issue
from apps.checkout.services.orders import _event, _reservation_ref, _status_event
from apps.checkout.services.store_credit import (
    order_credit_capture,
    order_credit_release,
)
from apps.core.audit import audit_log, audit_log_many, audit_row
from apps.core.exceptions import InvalidTransition
from apps.coupons import services as coupon_services
from apps.coupons.exceptions import CouponNotApplicable, CouponNotFound
from apps.inventory import services as inventory_services
from apps.inventory.exceptions import (
    OutOfStock,
    QuantityLimitExceeded,
    ReservationNotFound,
    ReservationReleased,
    VariantUnavailable,
)
from apps.inventory.services import ReservationRequest
from apps.wallets.exceptions import HoldNotFound, InsufficientCredit

if TYPE_CHECKING:
    from django.http import HttpRequest

    from apps.billing.models import Payment


logger = logging.getLogger(__name__)

ST = Order.Status


def _lines_with_variant() -> Prefetch:
    """Joined, not a second prefetch: the gift-card check reads each line's
    variant (a fresh Prefetch per query, as Django may mutate one)."""
    return Prefetch("lines", queryset=OrderLine.objects.select_related("variant"))


def _commit_stock(order: Order, ref: str, lines: list[OrderLine]) -> None:
    """Commit the order's stock hold; when it lapsed and the units went
    elsewhere, hold again (backorderable variants are held beyond stock) and
    commit that. Raise OutOfStock when the units are gone, VariantUnavailable
    or QuantityLimitExceeded when the variant changed since the hold."""
    try:
        reservations = inventory_services.stock_commit(ref=ref)
    except (OutOfStock, ReservationNotFound, ReservationReleased) as lapsed:
        gone = [li.sku for li in lines if li.variant_id is None]
        if gone:
            # Deleted from the catalogue since the order was placed.
            raise VariantUnavailable(
                f"{', '.join(gone)} is no longer sold.", details={"skus": gone}
            ) from lapsed
        inventory_services.stock_reserve(
            items=[
                ReservationRequest(li.variant_id, li.quantity)
                for li in lines
                if li.variant_id is not None
            ],
            ref=ref,
            ttl=timedelta(minutes=5),
        )
        reservations = inventory_services.stock_commit(ref=ref)
    backordered = {r.variant_id: r.backordered_quantity for r in reservations}
    for line in lines:
        if line.variant_id is not None and backordered.get(line.variant_id):
            line.backordered_quantity = backordered[line.variant_id]
            line.save(update_fields=["backordered_quantity"])


def _mark_cart_checked_out(cart_id: uuid.UUID | None) -> None:
    if cart_id is not None:
        cart_services.cart_mark_checked_out(cart_id=cart_id)


def _complete_checkout(checkout_id: uuid.UUID | None) -> None:
    """Close the checkout: the money is in, whatever step its tab shows.

    One conditional UPDATE through processing to completed, as the transition
    table allows (a shopper who went back to edit a step after the intent
    was created is overtaken by the payment). Raise
    InvalidTransition when the checkout is in a state the table does not let
    complete.
    """
    if checkout_id is None:
        return
    S = Checkout.State
    rows = Checkout.objects.filter(pk=checkout_id)
    # Through processing, as the table requires, in one UPDATE (nothing
    # reads the checkout between the two moves: they share a transaction).
    if CHECKOUT_STATES.move_many_through(rows, S.PROCESSING, S.COMPLETED):
        return
    completed = S.COMPLETED
    state = Checkout.objects.filter(pk=checkout_id).values_list("state", flat=True)
    current = state.first()
    if current is not None and current != completed:
        raise InvalidTransition(
            f"A checkout cannot go from {current} to {completed}.",
            details={"from": current, "to": completed},
        )


def _check_amount(order: Order, paid_minor: int, paid_currency: str) -> None:
    """Raise PaymentAmountMismatch unless what was paid is the order's card
    part (its total less store credit)."""
    if (paid_minor, paid_currency.upper()) != (
        order.card_minor,
        order.currency.upper(),
    ):
        raise PaymentAmountMismatch(
            f"Paid {paid_minor} {paid_currency.upper()}, the order"
            f" total is {order.total_minor} {order.currency.upper()}"
            + (
                f" ({order.credit_minor} in store credit)."
                if order.credit_minor
                else "."
            ),
            details={
                "paid_minor": paid_minor,
                "paid_currency": paid_currency.upper(),
                "total_minor": order.total_minor,
                "card_minor": order.card_minor,
                "currency": order.currency,
            },
        )


# Stock or coupons no longer possible, or the wrong amount: the money goes back.
UNFULFILLABLE = (
    PaymentAmountMismatch,
    OutOfStock,
    VariantUnavailable,
    QuantityLimitExceeded,
    CouponNotApplicable,
    CouponNotFound,
    InsufficientCredit,
    HoldNotFound,
)


def order_payment_succeeded(
    *,
    intent_id: str,
    source: str,
    request: HttpRequest | None = None,
    payment: Payment | None = None,
    stripe_amount: tuple[int, str] | None = None,
) -> Order | None:
    """Finalise the order an intent paid for, exactly once.

    Runs from the webhook (via a task) or from the return page / ``complete``
    re-fetching the intent, whichever is first; later calls are no-ops.
    ``stripe_amount`` is (minor units, currency) as the webhook reported it;
    without it the payment row, as last fetched from Stripe, is Stripe's word.
    Stock is committed and coupons redeemed inside the order's transaction;
    when the amount is wrong or either is no longer possible the order is
    cancelled and the payment refunded automatically (saga compensation).
    """
    if payment is None or payment.intent_id != intent_id:
        payment = billing_selectors.payment_get_by_intent(intent_id=intent_id)
    if payment is None:
        logger.warning("payment_succeeded for unknown intent %s", intent_id)
        return None
    refund_reason: str | None
    with transaction.atomic():
        # The lines are a snapshot that never changes: read once, for the
        # stock commit, the email and the caller's response alike.
        order = (
            Order.objects.select_for_update()
            .prefetch_related(_lines_with_variant())
            .filter(number=payment.reference)
            .first()
        )
        if order is None:
            return None
        if _cancelled_before_paid(order, payment):
            refund_reason = "order cancelled"
        elif order.status != ST.PENDING_PAYMENT:
            return order  # paid, or refunded already: a redelivered event
        else:
            refund_reason = _take_payment(
                order,
                payment,
                paid=stripe_amount or (payment.amount_minor, payment.currency),
                source=source,
                request=request,
            )
            if refund_reason is None:
                return order
    # Outside the transaction: the refund is a Stripe call.
    order_compensate(order_id=order.pk, reason=refund_reason)
    return Order.objects.get(pk=order.pk)


def _cancelled_before_paid(order: Order, payment: Payment) -> bool:
    """The order was cancelled before this money arrived: it must go back."""
    return order.status == ST.CANCELLED and payment.amount_refunded_minor == 0


def _take_payment(
    order: Order,
    payment: Payment,
    *,
    paid: tuple[int, str],
    source: str,
    request: HttpRequest | None,
) -> str | None:
    """Mark a locked pending order paid, or cancel it when it cannot be
    fulfilled; return why its money must go back, or None once it is paid."""
    _record_payment_succeeded(payment)
    lines = list(order.lines.all())
    try:
        _check_amount(order, *paid)
        # Coupons first (in their own savepoint), then stock (whose services
        # are atomic themselves): a failure of either leaves nothing
        # half-written, and no savepoint is spent on a coupon-less order.
        _settle(order, lines)
    except UNFULFILLABLE as exc:
        # A lapsed hold taken again can meet a variant deactivated or
        # limited since: the money still has to go back.
        _cancel_unfulfillable(order, reason=str(exc), source=source)
        return str(exc)
    _mark_paid(order, intent_id=payment.intent_id, source=source, request=request)
    order_gift_cards_issue(order=order, lines=lines)
    order_confirmation_send(order, lines=lines)
    return None


def order_paid_by_credit(*, order_id: int, request: HttpRequest | None = None) -> Order:
    """Finalise a pending order that store credit pays in full (no intent):
    coupons redeemed, stock committed and the credit hold captured, once.

    Raise what made it unfulfillable (OutOfStock, CouponNotApplicable, …)
    after cancelling it, its stock hold and credit hold released.
    """
    with transaction.atomic():
        order = (
            Order.objects.select_for_update()
            .prefetch_related(_lines_with_variant())
            .get(pk=order_id)
        )
        if order.status != ST.PENDING_PAYMENT:
            return order
        lines = list(order.lines.all())
        try:
            _settle(order, lines)
        except UNFULFILLABLE as exc:
            _cancel_unfulfillable(order, reason=str(exc), source="store_credit")
            failure = exc
        else:
            _mark_paid(
                order,
                intent_id="by store credit",
                source="store_credit",
                request=request,
            )
            order_gift_cards_issue(order=order, lines=lines)
            order_confirmation_send(order, lines=lines)
            return order
    raise failure


def _settle(order: Order, lines: list[OrderLine]) -> None:
    """Redeem the coupons, commit the stock and capture the store credit.

    With store credit all three share a savepoint: a capture that fails
    after the stock commit must not leave the units sold. Without, no
    savepoint is spent (coupon uses are given back by the cancellation).
    """
    if not order.credit_minor:
        _redeem_coupons(order)
        _commit_stock(order, _reservation_ref(order), lines)
        return
    # Stock before the wallet, as payment start locks them: no deadlock.
    with transaction.atomic():
        _redeem_coupons(order)
        _commit_stock(order, _reservation_ref(order), lines)
        order_credit_capture(order=order)


def _record_payment_succeeded(payment: Payment) -> None:
    if payment.status != IntentStatus.SUCCEEDED:
        billing_services.payment_status_record(
            intent_id=payment.intent_id, status=IntentStatus.SUCCEEDED
        )


def _mark_paid(
    order: Order, *, intent_id: str, source: str, request: HttpRequest | None
) -> None:
    """Move the order to paid and close its cart and checkout."""
    ORDER_STATES.move(
        order,
        ST.PAID,
        event=_status_event(source=source, message=f"Payment {intent_id} succeeded."),
    )
    _mark_cart_checked_out(order.cart_id)
    _complete_checkout(order.checkout_id)
    # Two rows of one event: one INSERT.
    audit_log_many(
        [
            audit_row(
                action="payment_succeeded",
                request=request,
                obj=order,
                data={"intent": intent_id, "source": source},
            ),
            audit_row(
                action="order_paid",
                request=request,
                obj=order,
                data={"total_minor": order.total_minor},
            ),
        ]
    )


def _cancel_unfulfillable(order: Order, *, reason: str, source: str) -> None:
    """Give back the stock hold and coupon uses, and cancel the order."""
    inventory_services.stock_release(ref=_reservation_ref(order))
    coupon_services.coupon_redemptions_release(order_ref=order.number)
    order_credit_release(order=order)
    ORDER_STATES.move(
        order,
        ST.CANCELLED,
        event=_status_event(
            source=source, message=f"Paid but cannot be fulfilled: {reason}"
        ),
    )


def order_payment_failed(
    *, intent_id: str, error_message: str, request: HttpRequest | None = None
) -> Order | None:
    """Record a failed payment: the shopper may retry (checkout payment_failed).

    A failure reported after the intent succeeded, or for an order no longer
    awaiting payment, is a stale or re-ordered event and changes nothing.
    """
    payment = billing_services.payment_status_record(
        intent_id=intent_id,
        status=IntentStatus.REQUIRES_PAYMENT_METHOD,
        error_message=error_message,
    )
    if payment is None or payment.status == IntentStatus.SUCCEEDED:
        return None
    with transaction.atomic():
        order = (
            Order.objects.select_for_update().filter(number=payment.reference).first()
        )
        if order is None or order.status != ST.PENDING_PAYMENT:
            return order
        # The shopper may retry with another card: payment start (or the
        # success, on the same intent) holds the credit again.
        order_credit_release(order=order)
        checkout = (
            Checkout.objects.select_for_update().filter(pk=order.checkout_id).first()
            if order.checkout_id is not None
            else None
        )
        if checkout is not None and checkout.state in (
            Checkout.State.REVIEW,
            Checkout.State.PROCESSING,
        ):
            checkout.last_error = error_message[:500]
            checkout_move_locked(
                checkout, Checkout.State.PAYMENT_FAILED, also_update=["last_error"]
            )
        _event(
            order,
            kind="payment_failed",
            source="webhook",
            message=error_message or "Payment failed.",
        )
        audit_log(
            action="payment_failed",
            request=request,
            obj=order,
            data={"intent": intent_id, "error": error_message},
        )
    return order


def _cancel_unpaid_locked(order: Order, *, source: str, message: str) -> Order:
    """Cancel a locked ``pending_payment`` order, release its stock hold and
    let its cart change again (nothing is being charged for it any more)."""
    inventory_services.stock_release(ref=_reservation_ref(order))
    order_credit_release(order=order)
    cart_services.cart_payment_unlock(cart_id=order.cart_id)
    ORDER_STATES.move(
        order, ST.CANCELLED, event=_status_event(source=source, message=message)
    )
    return order


def order_payment_canceled(
    *, intent_id: str, source: str = "webhook", reason: str = ""
) -> Order | None:
    """Cancel the pending order whose PaymentIntent was cancelled, once.

    The stock hold is released and an OrderEvent written. A redelivered or
    re-ordered event changes nothing: an order no longer awaiting payment is
    returned as it is, and so is one whose latest intent is another (the
    cancelled one was replaced when the total changed).
    """
    payment = billing_services.payment_status_record(
        intent_id=intent_id, status=IntentStatus.CANCELED
    )
    if payment is None or payment.status == IntentStatus.SUCCEEDED:
        return None
    with transaction.atomic():
        order = (
            Order.objects.select_for_update().filter(number=payment.reference).first()
        )
        if order is None or order.status != ST.PENDING_PAYMENT:
            return order
        latest = billing_selectors.payment_latest_for_reference(reference=order.number)
        if latest is None or latest.intent_id != intent_id:
            return order
        why = f" ({reason})" if reason else ""
        return _cancel_unpaid_locked(
            order, source=source, message=f"Payment {intent_id} was cancelled{why}."
        )
