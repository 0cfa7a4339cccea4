"""Staff refunds of some units of some lines (or an amount) of a paid order."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction

from apps.billing import selectors as billing_selectors
from apps.billing import services as billing_services
from apps.billing.gateway.types import IntentStatus
from apps.checkout.exceptions import RefundNotPossible
from apps.checkout.models import ORDER_STATES, Order, OrderEvent, OrderLine
from apps.checkout.services.customer_messages import order_refunded_send
from apps.checkout.services.orders import _event, _status_event
from apps.core.audit import audit_log
from apps.inventory import services as inventory_services
from apps.inventory.models import StockMovement

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser
    from django.http import HttpRequest

    from apps.accounts.models import User
    from apps.billing.models import PaymentRefund


ST = Order.Status


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
    if payment is None or payment.status != IntentStatus.SUCCEEDED:
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
            ORDER_STATES.move(
                locked, to, event=_status_event(source="admin", actor=actor)
            )
        audit_log(
            action="refund_processed",
            request=request,
            actor=actor,
            obj=locked,
            data={"refund": refund.refund_id, "amount": refund.amount_minor},
        )
        order_refunded_send(
            locked,
            refund_id=refund.refund_id,
            amount_minor=refund.amount_minor,
            items=[(lines[pk], qty) for pk, qty in applied.items()],
        )
    return locked
