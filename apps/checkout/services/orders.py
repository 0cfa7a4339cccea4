"""Orders: the state machine, placement snapshots, finalisation exactly once,
saga compensation (automatic refund), refunds, fulfilment and emails."""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from apps.billing import selectors as billing_selectors
from apps.billing import services as billing_services
from apps.billing.exceptions import PaymentProviderError, TransientError
from apps.carts import services as cart_services
from apps.carts.models import Cart
from apps.checkout.exceptions import PaymentAmountMismatch, RefundNotPossible
from apps.checkout.models import (
    CHECKOUT_TRANSITIONS,
    ORDER_TRANSITIONS,
    Checkout,
    FailedWorkflow,
    Order,
    OrderEvent,
    OrderLine,
)
from apps.checkout.services.checkout import checkout_move_locked
from apps.core.audit import audit_log
from apps.core.exceptions import InvalidTransition
from apps.core.notifications import notification_enqueue_template
from apps.coupons import selectors as coupon_selectors
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
from apps.inventory.models import Reservation, StockMovement
from apps.inventory.services import ReservationRequest

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser
    from django.http import HttpRequest

    from apps.accounts.models import User
    from apps.billing.models import Payment, PaymentRefund
    from apps.checkout.services.pricing import Totals

logger = logging.getLogger(__name__)
ST = Order.Status
_NUMBER_ALPHABET = "ACDEFGHJKMNPQRTUVWXY3479"
PAID_STATUSES = (ST.PAID, ST.FULFILLED, ST.PARTIALLY_REFUNDED, ST.REFUNDED)


def order_number_new() -> str:
    """Return a short, unambiguous order number such as ``K7Q-4MXP``."""
    raw = "".join(secrets.choice(_NUMBER_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def order_public_path(order: Order) -> str:
    """The signed path for a guest to see the order (no login needed)."""
    token = signing.dumps(order.number, salt="checkout.order")
    return reverse("checkout:order-guest", kwargs={"token": token})


def order_public_url(order: Order) -> str:
    """The signed link (absolute, for emails)."""
    return settings.SITE_URL.rstrip("/") + order_public_path(order)


def order_number_from_token(token: str) -> str | None:
    try:
        return signing.loads(token, salt="checkout.order")
    except signing.BadSignature:
        return None


def _event(
    order: Order,
    *,
    kind: str = "status",
    source: str = "",
    actor: User | AnonymousUser | None = None,
    message: str = "",
    data: dict[str, Any] | None = None,
    from_status: str = "",
    to_status: str = "",
) -> OrderEvent:
    return OrderEvent.objects.create(
        order=order,
        kind=kind,
        source=source,
        message=message[:500],
        actor=actor if actor is not None and actor.is_authenticated else None,
        data=data or {},
        from_status=from_status,
        to_status=to_status,
    )


def _set_status(
    order: Order,
    to: str,
    *,
    source: str = "",
    actor: User | AnonymousUser | None = None,
    message: str = "",
) -> Order:
    """Transition a row the caller has locked; same state is a no-op."""
    if order.status == to:
        return order
    if to not in ORDER_TRANSITIONS.get(order.status, set()):
        raise InvalidTransition(
            f"An order cannot go from {order.status} to {to}.",
            details={"from": order.status, "to": to},
        )
    previous = order.status
    order.status = to
    fields = ["status", "updated_at"]
    now = timezone.now()
    stamps: dict[str, str] = {
        ST.PAID: "paid_at",
        ST.FULFILLED: "fulfilled_at",
        ST.CANCELLED: "cancelled_at",
    }
    stamp = stamps.get(to)
    if stamp:
        setattr(order, stamp, now)
        fields.append(stamp)
    order.save(update_fields=fields)
    _event(
        order,
        source=source,
        actor=actor,
        message=message,
        from_status=previous,
        to_status=to,
    )
    return order


def order_transition(
    *,
    order_id: int,
    to: str,
    source: str = "",
    actor: User | AnonymousUser | None = None,
    message: str = "",
) -> Order:
    """Lock the order and move it to ``to`` (writes an OrderEvent).

    A move to the current state is a no-op. Raise InvalidTransition.
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        return _set_status(order, to, source=source, actor=actor, message=message)


def _order_create(checkout: Checkout, values: dict[str, Any]) -> Order:
    """Create the checkout's order under a fresh number (five tries on a clash)."""
    attempts = 0
    while True:
        try:
            with transaction.atomic():
                return Order.objects.create(
                    number=order_number_new(), checkout=checkout, **values
                )
        except IntegrityError:
            attempts += 1
            if attempts == 5:
                raise


def order_place_pending(*, checkout: Checkout, totals: Totals) -> Order:
    """Create or refresh the checkout's ``pending_payment`` order from totals.

    Call inside the transaction that locked the checkout.
    """
    order = Order.objects.select_for_update().filter(checkout=checkout).first()
    if order is not None and order.status != ST.PENDING_PAYMENT:
        if order.status in PAID_STATUSES:
            raise InvalidTransition(
                "This checkout is already paid.", details={"from": order.status}
            )
        order.checkout = None  # cancelled: keep it, start a new one
        order.save(update_fields=["checkout", "updated_at"])
        order = None
    view = totals.view
    values: dict[str, Any] = {
        "cart_id": checkout.cart_id,
        "user": checkout.user,
        "email": checkout.email,
        "marketing_consent": checkout.marketing_consent,
        "currency": totals.currency,
        "subtotal_minor": totals.subtotal_minor,
        "discount_minor": totals.discount_minor,
        "shipping_minor": totals.shipping_minor,
        "shipping_discount_minor": totals.shipping_discount_minor,
        "tax_minor": totals.tax_minor,
        "total_minor": totals.total_minor,
        "prices_include_tax": totals.prices_include_tax,
        "taxes": list(totals.taxes),
        "coupons": [
            {"code": a.code, "discount_minor": a.amount_minor}
            for a in view.breakdown.applied
        ],
        "shipping_address": checkout.shipping_address
        if totals.requires_shipping
        else None,
        "billing_address": (
            checkout.shipping_address
            if checkout.billing_same_as_shipping and checkout.shipping_address
            else checkout.billing_address
        ),
        "shipping_method_name": checkout.shipping_method.name
        if totals.requires_shipping and checkout.shipping_method
        else "",
        "requires_shipping": totals.requires_shipping,
    }
    if order is None:
        order = _order_create(checkout, values)
        _event(order, kind="created", source="checkout", to_status=ST.PENDING_PAYMENT)
    else:
        for name, value in values.items():
            setattr(order, name, value)
        order.save(update_fields=[*values, "updated_at"])
        order.lines.all().delete()
    by_key = {line.key: line for line in view.breakdown.lines}
    OrderLine.objects.bulk_create(
        [
            OrderLine(
                order=order,
                variant_id=line.variant_id,
                sku=line.sku,
                title=line.title[:255],
                quantity=line.quantity,
                unit_price_minor=line.unit_price_minor,
                subtotal_minor=line.subtotal_minor,
                discount_minor=line.discount_minor,
                tax_minor=by_key[line.variant_id].tax_minor,
                total_minor=line.total_minor,
                weight_grams=totals.weights.get(line.variant_id, 0),
            )
            for line in view.lines
            if line.is_priced
        ]
    )
    return order


# --- finalisation ------------------------------------------------------------


def _customer_key(order: Order) -> str:
    return (
        coupon_selectors.customer_key_for(user_id=order.user_id, email=order.email)
        or f"email:{order.email}"
    )


def _verified_emails(user_id: int) -> list[str]:
    from allauth.account.models import EmailAddress

    return list(
        EmailAddress.objects.filter(user_id=user_id, verified=True).values_list(
            "email", flat=True
        )
    )


def customer_order_count(customer_key: str) -> int:
    """How many orders this customer has paid (coupons' first-order rule)."""
    kind, _, value = customer_key.partition(":")
    qs = Order.objects.filter(status__in=PAID_STATUSES)
    if kind == "user":
        # Guest orders placed before signing up, under a verified email of
        # theirs, are the user's orders too.
        condition = Q(user_id=int(value))
        for email in _verified_emails(int(value)):
            condition |= Q(user__isnull=True, email__iexact=email)
        return qs.filter(condition).count()
    return qs.filter(email__iexact=value).count()


def _customer_lock_keys(order: Order, customer_key: str) -> list[str]:
    """Every key another order of this customer could be counted under.

    A user's orders and guest orders under any of their verified emails
    count as one customer, and per-customer limits also match by email, so
    all of them are locked: two orders of one customer then share a key.
    """
    keys = [customer_key]
    if order.email:
        keys.append(f"email:{order.email}")
    if order.user_id:
        keys += [f"email:{email}" for email in _verified_emails(order.user_id)]
    return keys


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


def _redeem_coupons(order: Order) -> None:
    """Count the order's coupon uses, all or none, exactly under concurrency.

    Call inside the transaction that marks the order paid. The customer's
    lock is taken for every order, with or without coupons, and held until
    that transaction commits: a concurrent order of the same customer then
    waits, and counts this one among the paid orders once it proceeds. The
    paid-order count is read only after the lock, so "first order" and
    per-customer limits are re-checked against every committed order.
    """
    key = _customer_key(order)
    coupon_services.customer_redemptions_lock(
        customer_keys=_customer_lock_keys(order, key)
    )
    if not order.coupons:
        return
    coupon_services.order_coupons_redeem(
        requests=[
            coupon_services.RedemptionRequest(
                code=coupon["code"], discount_minor=int(coupon["discount_minor"])
            )
            for coupon in order.coupons
        ],
        order_ref=order.number,
        customer_key=key,
        currency=order.currency,
        customer_order_count=customer_order_count(key),
        user_id=order.user_id,
        email=order.email,
    )


def _mark_cart_checked_out(cart_id: uuid.UUID | None) -> None:
    if cart_id is None:
        return
    try:
        cart_services.cart_transition(cart_id=cart_id, to=Cart.Status.CHECKED_OUT)
    except InvalidTransition:
        cart_services.cart_transition(cart_id=cart_id, to=Cart.Status.OPEN)
        cart_services.cart_transition(cart_id=cart_id, to=Cart.Status.CHECKED_OUT)
    except Cart.DoesNotExist:
        pass


def _completable_states() -> list[str]:
    """States the table lets a paid checkout leave for completed, via processing."""
    S = Checkout.State
    if S.COMPLETED not in CHECKOUT_TRANSITIONS.get(S.PROCESSING, set()):
        return []
    return sorted(
        {S.PROCESSING}
        | {state for state, to in CHECKOUT_TRANSITIONS.items() if S.PROCESSING in to}
    )


def _complete_checkout(checkout_id: uuid.UUID | None) -> None:
    """Close the checkout: the money is in, whatever step its tab shows.

    One conditional UPDATE over the states the transition table lets pass
    through processing to completed (a shopper who went back to edit a step
    after the intent was created is overtaken by the payment). Raise
    InvalidTransition when the checkout is in a state the table does not let
    complete.
    """
    if checkout_id is None:
        return
    completed = Checkout.State.COMPLETED
    moved = Checkout.objects.filter(
        pk=checkout_id, state__in=_completable_states()
    ).update(state=completed, updated_at=timezone.now())
    if moved:
        return
    state = Checkout.objects.filter(pk=checkout_id).values_list("state", flat=True)
    current = state.first()
    if current is not None and current != completed:
        raise InvalidTransition(
            f"A checkout cannot go from {current} to {completed}.",
            details={"from": current, "to": completed},
        )


def order_confirmation_send(
    order: Order, *, resend: bool = False, lines: list[OrderLine] | None = None
) -> None:
    suffix = f":resend:{timezone.now().timestamp()}" if resend else ""
    notification_enqueue_template(
        kind="checkout.order_confirmation",
        recipient=order.email,
        idempotency_key=f"checkout.order_confirmation:{order.number}{suffix}",
        template_prefix="checkout/email/order_confirmation",
        context={
            "order": order,
            "lines": lines if lines is not None else list(order.lines.all()),
            "url": order_public_url(order),
        },
    )


def _check_amount(order: Order, paid_minor: int, paid_currency: str) -> None:
    """Raise PaymentAmountMismatch unless what was paid is the order's total."""
    if (paid_minor, paid_currency.upper()) != (
        order.total_minor,
        order.currency.upper(),
    ):
        raise PaymentAmountMismatch(
            f"Paid {paid_minor} {paid_currency.upper()}, the order"
            f" total is {order.total_minor} {order.currency.upper()}.",
            details={
                "paid_minor": paid_minor,
                "paid_currency": paid_currency.upper(),
                "total_minor": order.total_minor,
                "currency": order.currency,
            },
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
    failure: Exception | None = None
    compensate = False
    with transaction.atomic():
        order = (
            Order.objects.select_for_update().filter(number=payment.reference).first()
        )
        if order is None:
            return None
        order_id = order.pk
        if order.status != ST.PENDING_PAYMENT:
            # Paid already (duplicate or re-ordered event), or cancelled
            # before the money arrived: that payment must go back.
            compensate = order.status == ST.CANCELLED and (
                payment.amount_refunded_minor == 0
            )
            if not compensate:
                return order
        else:
            if payment.status != "succeeded":
                billing_services.payment_status_record(
                    intent_id=intent_id, status="succeeded"
                )
            ref = f"checkout:{order.checkout_id}" if order.checkout_id else order.number
            lines = list(order.lines.all())
            # Coupons first (in their own savepoint), then stock (whose
            # services are atomic themselves): a failure of either leaves
            # nothing half-written, and no savepoint is spent on the
            # common coupon-less order.
            try:
                paid_minor, paid_currency = stripe_amount or (
                    payment.amount_minor,
                    payment.currency,
                )
                _check_amount(order, paid_minor, paid_currency)
                _redeem_coupons(order)
                _commit_stock(order, ref, lines)
            except (
                PaymentAmountMismatch,
                OutOfStock,
                VariantUnavailable,
                QuantityLimitExceeded,
                CouponNotApplicable,
                CouponNotFound,
            ) as exc:
                # A lapsed hold taken again can meet a variant deactivated or
                # limited since: the money still has to go back.
                failure = exc
            if failure is None:
                _set_status(
                    order,
                    ST.PAID,
                    source=source,
                    message=f"Payment {intent_id} succeeded.",
                )
                _mark_cart_checked_out(order.cart_id)
                _complete_checkout(order.checkout_id)
                audit_log(
                    action="payment_succeeded",
                    request=request,
                    obj=order,
                    data={"intent": intent_id, "source": source},
                )
                audit_log(
                    action="order_paid",
                    request=request,
                    obj=order,
                    data={"total_minor": order.total_minor},
                )
                order_confirmation_send(order, lines=lines)
                # Hand the caller order.lines without another query.
                order._prefetched_objects_cache = {"lines": lines}  # type: ignore[attr-defined]  # Django's private prefetch cache
                return order
            inventory_services.stock_release(ref=ref)
            coupon_services.coupon_redemptions_release(order_ref=order.number)
            _set_status(
                order,
                ST.CANCELLED,
                source=source,
                message=f"Paid but cannot be fulfilled: {failure}",
            )
            compensate = True
    if compensate:
        order_compensate(order_id=order_id, reason=str(failure or "order cancelled"))
    return Order.objects.get(pk=order_id)


def order_compensate(*, order_id: int, reason: str) -> FailedWorkflow | None:
    """Refund a cancelled order's payment in full and apologise (saga step).

    On a Stripe failure a FailedWorkflow is left open for retry; a later
    successful retry resolves it.
    """
    order = Order.objects.get(pk=order_id)
    payment = billing_selectors.payment_latest_for_reference(reference=order.number)
    workflow = FailedWorkflow.objects.filter(
        order=order, step="auto_refund", status=FailedWorkflow.Status.OPEN
    ).first()
    if payment is None or payment.status != "succeeded":
        return workflow
    try:
        refund = billing_services.payment_refund(
            payment=payment,
            idempotency_key=f"auto-refund:{order.number}",
            reason=f"order {order.number} cannot be fulfilled",
        )
    except (TransientError, PaymentProviderError) as exc:
        if workflow is None:
            workflow = FailedWorkflow.objects.create(
                order=order,
                step="auto_refund",
                error=str(exc),
                attempts=1,
                payload={"reason": reason},
            )
        else:
            workflow.attempts += 1
            workflow.error = str(exc)
            workflow.save(update_fields=["attempts", "error", "updated_at"])
        return workflow
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        # A mismatched payment may exceed the order total: the order records
        # at most its total, the payment row keeps what Stripe refunded.
        refunded = min(refund.amount_minor, locked.total_minor)
        if locked.refunded_minor < refunded:
            locked.refunded_minor = refunded
            locked.save(update_fields=["refunded_minor", "updated_at"])
            _event(
                locked,
                kind="refund",
                source="system",
                message=f"Automatic full refund: {reason}"[:500],
                data={"refund": refund.refund_id, "amount": refund.amount_minor},
            )
            audit_log(
                action="refund_processed",
                obj=locked,
                data={"refund": refund.refund_id, "automatic": True},
            )
            notification_enqueue_template(
                kind="checkout.order_apology",
                recipient=locked.email,
                idempotency_key=f"checkout.order_apology:{locked.number}",
                template_prefix="checkout/email/order_apology",
                context={
                    "order": locked,
                    "lines": list(locked.lines.all()),
                    "reason": reason,
                },
            )
        if workflow is not None:
            workflow.status = FailedWorkflow.Status.RESOLVED
            workflow.resolved_at = timezone.now()
            workflow.attempts += 1
            workflow.save(
                update_fields=["status", "resolved_at", "attempts", "updated_at"]
            )
    return workflow


FINALIZE_STEP = "finalize_payment"


def finalize_payment_failed(
    *,
    intent_id: str,
    error: str,
    attempts: int,
    source: str = "webhook",
    stripe_amount: tuple[int, str] | None = None,
) -> FailedWorkflow:
    """Record that finalising an intent's order exhausted its retries.

    One open FailedWorkflow per intent: a later exhaustion (a redelivered
    task) adds its attempts to it. Staff retry it from the admin.
    """
    payment = billing_selectors.payment_get_by_intent(intent_id=intent_id)
    order = (
        Order.objects.filter(number=payment.reference).first()
        if payment is not None
        else None
    )
    payload: dict[str, Any] = {"intent_id": intent_id, "source": source}
    if stripe_amount is not None:
        payload["amount_minor"], payload["currency"] = stripe_amount
    with transaction.atomic():
        workflow = (
            FailedWorkflow.objects.select_for_update()
            .filter(
                step=FINALIZE_STEP,
                status=FailedWorkflow.Status.OPEN,
                payload__intent_id=intent_id,
            )
            .first()
        )
        if workflow is None:
            return FailedWorkflow.objects.create(
                order=order,
                step=FINALIZE_STEP,
                error=error[:5000],
                attempts=attempts,
                payload=payload,
            )
        workflow.attempts += attempts
        workflow.error = error[:5000]
        workflow.save(update_fields=["attempts", "error", "updated_at"])
        return workflow


def _workflow_finalize_retry(workflow: FailedWorkflow) -> None:
    payload = workflow.payload
    amount = payload.get("amount_minor")
    try:
        order = order_payment_succeeded(
            intent_id=payload["intent_id"],
            source="retry",
            stripe_amount=(int(amount), str(payload["currency"]))
            if amount is not None
            else None,
        )
    except Exception as exc:
        # Staff see why it failed again; nothing half-written (atomic).
        FailedWorkflow.objects.filter(pk=workflow.pk).update(
            attempts=F("attempts") + 1, error=str(exc)[:5000], updated_at=timezone.now()
        )
        logger.warning("retry of workflow %s failed: %s", workflow.pk, exc)
        return
    done = order is None or order.status != ST.PENDING_PAYMENT
    FailedWorkflow.objects.filter(pk=workflow.pk).update(
        attempts=F("attempts") + 1,
        updated_at=timezone.now(),
        **(
            {"status": FailedWorkflow.Status.RESOLVED, "resolved_at": timezone.now()}
            if done
            else {}
        ),
    )


def failed_workflow_retry(*, workflow_id: int) -> FailedWorkflow:
    """Run a failed step again (the admin's retry action).

    A workflow exists because its step exhausted its automatic retries, so
    retrying is a staff decision, not a schedule. A resolved one is returned
    unchanged; one that fails again stays open with the new error.
    """
    workflow = FailedWorkflow.objects.get(pk=workflow_id)
    if workflow.status == FailedWorkflow.Status.RESOLVED:
        return workflow
    if workflow.step == "auto_refund" and workflow.order_id:
        order_compensate(
            order_id=workflow.order_id, reason=workflow.payload.get("reason", "")
        )
    elif workflow.step == FINALIZE_STEP:
        _workflow_finalize_retry(workflow)
    workflow.refresh_from_db()
    return workflow


def order_payment_failed(
    *, intent_id: str, error_message: str, request: HttpRequest | None = None
) -> Order | None:
    """Record a failed payment: the shopper may retry (checkout payment_failed).

    A failure reported after the intent succeeded, or for an order no longer
    awaiting payment, is a stale or re-ordered event and changes nothing.
    """
    payment = billing_services.payment_status_record(
        intent_id=intent_id,
        status="requires_payment_method",
        error_message=error_message,
    )
    if payment is None or payment.status == "succeeded":
        return None
    with transaction.atomic():
        order = (
            Order.objects.select_for_update().filter(number=payment.reference).first()
        )
        if order is None or order.status != ST.PENDING_PAYMENT:
            return order
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


def _reservation_ref(order: Order) -> str:
    return f"checkout:{order.checkout_id}" if order.checkout_id else order.number


def _cancel_unpaid_locked(order: Order, *, source: str, message: str) -> Order:
    """Cancel a locked ``pending_payment`` order, release its stock hold and
    let its cart change again (nothing is being charged for it any more)."""
    inventory_services.stock_release(ref=_reservation_ref(order))
    cart_services.cart_payment_unlock(cart_id=order.cart_id)
    return _set_status(order, ST.CANCELLED, source=source, message=message)


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
        intent_id=intent_id, status="canceled"
    )
    if payment is None or payment.status == "succeeded":
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


PENDING_ORDER_BATCH = 100


def pending_order_max_age() -> timedelta:
    """How long an order may await payment (``CHECKOUT_PENDING_ORDER_MAX_AGE``,
    minutes; one hour by default)."""
    return timedelta(minutes=settings.CHECKOUT_PENDING_ORDER_MAX_AGE)


def _pending_orders_untouched_since(
    cutoff: datetime, *, limit: int
) -> tuple[list[str], dict[str, Payment]]:
    """Return the oldest pending orders' numbers and each one's latest payment."""
    numbers = list(
        Order.objects.filter(status=ST.PENDING_PAYMENT, updated_at__lt=cutoff)
        .order_by("updated_at")
        .values_list("number", flat=True)[:limit]
    )
    latest: dict[str, Payment] = {}
    for row in billing_selectors.payments_for_references(references=numbers).order_by(
        "pk"
    ):
        latest[row.reference] = row  # ascending pk: the newest wins
    return numbers, latest


def _pending_orders_to_cancel(
    cutoff: datetime, now: datetime, *, limit: int
) -> tuple[list[str], dict[str, Payment]]:
    """Return the oldest pending orders whose stock hold has lapsed (no active
    hold left, or all expired) or that were untouched since ``cutoff``, and
    each one's latest payment."""
    numbers: list[str] = []
    pending = (
        Order.objects.filter(status=ST.PENDING_PAYMENT)
        .order_by("updated_at")
        .only("number", "checkout_id", "updated_at")
    )
    for chunk in _chunks(pending.iterator(chunk_size=500), 500):
        refs = {_reservation_ref(order): order for order in chunk}
        live = set(
            Reservation.objects.filter(
                ref__in=list(refs),
                status=Reservation.Status.ACTIVE,
                expires_at__gt=now,
            ).values_list("ref", flat=True)
        )
        numbers += [
            order.number
            for ref, order in refs.items()
            if ref not in live or order.updated_at < cutoff
        ]
        if len(numbers) >= limit:
            break
    numbers = numbers[:limit]
    latest: dict[str, Payment] = {}
    for row in billing_selectors.payments_for_references(references=numbers).order_by(
        "pk"
    ):
        latest[row.reference] = row  # ascending pk: the newest wins
    return numbers, latest


def _chunks(items: Iterator[Order], size: int) -> Iterator[list[Order]]:
    chunk: list[Order] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _still_abandoned(order: Order, cutoff: datetime, now: datetime) -> bool:
    """Under the order's lock: its hold still lapsed, or untouched since cutoff
    (the customer may have come back and been given a fresh hold meanwhile)."""
    if order.updated_at < cutoff:
        return True
    return not Reservation.objects.filter(
        ref=_reservation_ref(order),
        status=Reservation.Status.ACTIVE,
        expires_at__gt=now,
    ).exists()


def orders_cancel_abandoned(
    *, older_than: timedelta | None = None, limit: int = PENDING_ORDER_BATCH
) -> list[str]:
    """Cancel ``pending_payment`` orders whose stock hold has expired, or left
    untouched longer than ``older_than`` (default: ``pending_order_max_age()``).

    For each, the intent is re-fetched from Stripe first, with no transaction
    open: one that succeeded after all is finalised instead, one still
    processing is left alone. Otherwise the intent is cancelled through the
    gateway (no row lock held), then, under the order's lock and only if the
    order is still abandoned and that intent still its latest, the order is
    cancelled, its stock hold released (once: the status transition runs
    once) and an audit row written. A Stripe failure on one order is logged
    and left for the next run. Return the numbers cancelled.
    """
    now = timezone.now()
    cutoff = now - (older_than or pending_order_max_age())
    numbers, latest = _pending_orders_to_cancel(cutoff, now, limit=limit)
    cancelled: list[str] = []
    for number in numbers:
        payment = latest.get(number)
        try:
            if payment is not None and payment.status not in ("succeeded", "canceled"):
                payment = billing_services.payment_sync(
                    intent_id=payment.intent_id, payment=payment
                )
            if payment is not None and payment.status == "succeeded":
                order_payment_succeeded(
                    intent_id=payment.intent_id, source="sweep", payment=payment
                )
                continue
            if payment is not None and payment.status == "processing":
                continue  # the money is on its way; Stripe will say how it ended
            if payment is not None and payment.is_open:
                payment = billing_services.payment_cancel(payment=payment)
        except (TransientError, PaymentProviderError) as exc:
            logger.warning("pending-order sweep: %s left for later: %s", number, exc)
            continue
        with transaction.atomic():
            order = (
                Order.objects.select_for_update()
                .filter(number=number, status=ST.PENDING_PAYMENT)
                .first()
            )
            if order is None or not _still_abandoned(order, cutoff, now):
                continue
            now_latest = billing_selectors.payment_latest_for_reference(
                reference=number
            )
            if (now_latest.pk if now_latest else None) != (
                payment.pk if payment else None
            ) or (now_latest is not None and now_latest.status == "succeeded"):
                continue  # a new intent or a success arrived meanwhile
            _cancel_unpaid_locked(
                order,
                source="sweep",
                message="Not paid before its stock hold expired: payment cancelled.",
            )
            audit_log(
                action="order_abandoned_cancelled",
                obj=order,
                data={
                    "intent": payment.intent_id if payment else "",
                    "intent_status": payment.status if payment else "",
                    "total_minor": order.total_minor,
                },
            )
        cancelled.append(number)
    return cancelled


# --- staff actions -------------------------------------------------------------


def order_fulfil(
    *,
    order: Order,
    carrier: str,
    tracking_number: str,
    actor: User | AnonymousUser | None = None,
) -> Order:
    """Mark a paid order shipped and email the tracking number."""
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        locked.carrier = carrier.strip()[:64]
        locked.tracking_number = tracking_number.strip()[:128]
        locked.save(update_fields=["carrier", "tracking_number", "updated_at"])
        _set_status(
            locked,
            ST.FULFILLED,
            source="admin",
            actor=actor,
            message=f"Shipped with {carrier} ({tracking_number}).",
        )
        notification_enqueue_template(
            kind="checkout.order_shipped",
            recipient=locked.email,
            idempotency_key=f"checkout.order_shipped:{locked.number}",
            template_prefix="checkout/email/order_shipped",
            context={"order": locked, "url": order_public_url(locked)},
        )
    return locked


def _line_refund_minor(line: OrderLine, qty: int) -> int:
    """What refunding ``qty`` more units of ``line`` is worth.

    Cumulative rounding: the units refunded so far are worth
    ``amount * refunded // quantity``, so refunding the last unit gives the
    line's remainder and a whole line always refunds total + tax exactly.
    """
    amount = line.total_minor + line.tax_minor
    target = amount * (line.refunded_quantity + qty) // line.quantity
    return max(0, target - line.refunded_minor)


def order_refund(
    *,
    order: Order,
    line_quantities: dict[int, int] | None = None,
    restock: bool = False,
    actor: User | AnonymousUser | None = None,
    request: HttpRequest | None = None,
) -> Order:
    """Refund the whole order (no lines given) or some units of some lines.

    The Stripe refund goes through billing outside any transaction; restocked
    units are written to the stock ledger as returns. A repeated submission
    built from the same state carries the same idempotency key, so Stripe
    refunds once and the refund is recorded once. Raise RefundNotPossible.
    """
    order = Order.objects.get(pk=order.pk)
    if order.status not in (ST.PAID, ST.FULFILLED, ST.PARTIALLY_REFUNDED):
        raise RefundNotPossible(f"A {order.status} order cannot be refunded.")
    lines = {line.pk: line for line in order.lines.all()}
    if not line_quantities:
        amount = order.total_minor - order.refunded_minor
        plan = {
            pk: line.quantity - line.refunded_quantity for pk, line in lines.items()
        }
    else:
        plan, amount = {}, 0
        for pk, qty in line_quantities.items():
            line = lines.get(int(pk))
            qty = int(qty)
            if line is None or qty < 1 or qty > line.quantity - line.refunded_quantity:
                raise RefundNotPossible("Refund quantities exceed what was ordered.")
            plan[line.pk] = qty
            amount += _line_refund_minor(line, qty)
        amount = min(amount, order.total_minor - order.refunded_minor)
    if amount <= 0:
        raise RefundNotPossible("Nothing left to refund.")
    payment = billing_selectors.payment_latest_for_reference(reference=order.number)
    if payment is None or payment.status != "succeeded":
        raise RefundNotPossible("This order has no successful payment.")
    refund = billing_services.payment_refund(
        payment=payment,
        amount_minor=amount,
        idempotency_key=f"refund:{order.number}:{order.refunded_minor}:{amount}",
        reason="staff refund",
    )
    return order_refund_apply(
        order_id=order.pk,
        refund=refund,
        plan=plan,
        restock=restock,
        actor=actor,
        request=request,
    )


def order_refund_apply(
    *,
    order_id: int,
    refund: PaymentRefund,
    plan: dict[int, int],
    restock: bool = False,
    actor: User | AnonymousUser | None = None,
    request: HttpRequest | None = None,
) -> Order:
    """Record a Stripe refund against the order and its lines, once.

    Runs under the order's lock on freshly read lines: a refund row already
    recorded (a double submission got the same refund back) changes nothing,
    and units are counted (and restocked) only up to what is left on a line.
    """
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order_id)
        if OrderEvent.objects.filter(
            order=locked, kind="refund", data__refund=refund.refund_id
        ).exists():
            return locked
        lines = {line.pk: line for line in locked.lines.filter(pk__in=list(plan))}
        applied: dict[int, int] = {}
        for pk, wanted in plan.items():
            line = lines.get(int(pk))
            if line is None:
                continue
            qty = min(int(wanted), line.quantity - line.refunded_quantity)
            if qty <= 0:
                continue
            line.refunded_minor += _line_refund_minor(line, qty)
            line.refunded_quantity += qty
            line.save(update_fields=["refunded_quantity", "refunded_minor"])
            applied[line.pk] = qty
            if restock and line.variant_id:
                inventory_services.stock_adjust(
                    variant_id=line.variant_id,
                    quantity_delta=qty,
                    reason=StockMovement.Reason.RETURN,
                    actor=actor,
                    reference=f"refund {locked.number}",
                )
        locked.refunded_minor = min(
            locked.total_minor, locked.refunded_minor + refund.amount_minor
        )
        locked.save(update_fields=["refunded_minor", "updated_at"])
        _event(
            locked,
            kind="refund",
            source="admin",
            actor=actor,
            message=f"Refunded {refund.amount_minor} {locked.currency}.",
            data={"refund": refund.refund_id, "lines": applied, "restock": restock},
        )
        to = (
            ST.REFUNDED
            if locked.refunded_minor >= locked.total_minor
            else ST.PARTIALLY_REFUNDED
        )
        if locked.status == ST.FULFILLED and to == ST.PARTIALLY_REFUNDED:
            pass  # stays fulfilled; the refund is on the events
        else:
            _set_status(locked, to, source="admin", actor=actor)
        audit_log(
            action="refund_processed",
            request=request,
            actor=actor,
            obj=locked,
            data={"refund": refund.refund_id, "amount": refund.amount_minor},
        )
    return locked


# --- sweep: finalisations a lost webhook task never ran ------------------------

STUCK_PAYMENT_AFTER = timedelta(minutes=10)
STUCK_PAYMENT_BATCH = 100


def orders_finalize_stuck(
    *, older_than: timedelta = STUCK_PAYMENT_AFTER, limit: int = STUCK_PAYMENT_BATCH
) -> list[str]:
    """Finalise pending orders whose payment succeeded but were never finalised.

    The webhook queues finalisation after its commit; when the broker was down
    that task is lost while Stripe has the money. For each order still
    ``pending_payment`` and untouched for ``older_than``, a payment we already
    know succeeded is finalised; an open one is re-fetched from Stripe (no
    transaction open) and finalised if it succeeded meanwhile. Return the
    numbers of the orders finalised (paid or compensated). A Stripe failure
    on one order is logged and left for the next sweep.
    """
    cutoff = timezone.now() - older_than
    numbers, latest = _pending_orders_untouched_since(cutoff, limit=limit)
    done: list[str] = []
    for number in numbers:
        payment = latest.get(number)
        if payment is None or payment.status == "canceled":
            continue
        if payment.status != "succeeded":
            try:
                payment = billing_services.payment_sync(
                    intent_id=payment.intent_id, payment=payment
                )
            except (TransientError, PaymentProviderError) as exc:
                logger.warning("sweep: cannot re-fetch %s: %s", payment.intent_id, exc)
                continue
            if payment.status != "succeeded":
                continue
        order = order_payment_succeeded(
            intent_id=payment.intent_id, source="sweep", payment=payment
        )
        if order is not None and order.status != ST.PENDING_PAYMENT:
            done.append(number)
    return done
