"""Staff refunds of some units of some lines (or an amount) of a paid order.

A refund follows the order's payment split: the store-credit part goes back
to the wallet first (``credit_first``), the rest to the card at Stripe, or
to the wallet too when staff refund the card part as store credit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import transaction

from apps.billing import selectors as billing_selectors
from apps.billing import services as billing_services
from apps.billing.gateway.types import IntentStatus
from apps.checkout.exceptions import RefundNotPossible
from apps.checkout.models import ORDER_STATES, Order, OrderEvent, OrderLine
from apps.checkout.services.customer_messages import order_refunded_send
from apps.checkout.services.gift_cards import order_gift_cards_void_for_refund
from apps.checkout.services.orders import _event, _status_event
from apps.checkout.services.store_credit import order_credit_refund
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


@dataclass(frozen=True, slots=True)
class RefundSplit:
    """Where one refund's money goes."""

    from_credit_minor: int  # taken from the store-credit part, to the wallet
    from_card_minor: int  # taken from the card part
    card_as_credit: bool  # the card part goes to the wallet, not the card

    @property
    def wallet_minor(self) -> int:
        return self.from_credit_minor + (
            self.from_card_minor if self.card_as_credit else 0
        )

    @property
    def stripe_minor(self) -> int:
        return 0 if self.card_as_credit else self.from_card_minor


def refund_split(
    *,
    order: Order,
    amount_minor: int,
    credit_first: bool = True,
    card_as_credit: bool = False,
) -> RefundSplit:
    """Split ``amount_minor`` between the order's credit and card parts.

    The credit part is used first unless ``credit_first`` is off, in which
    case the card part is used first.
    """
    credit_left = order.credit_minor - order.credit_refunded_minor
    card_left = order.card_minor - (order.refunded_minor - order.credit_refunded_minor)
    if credit_first:
        from_credit = min(amount_minor, credit_left)
    else:
        from_credit = max(0, amount_minor - card_left)
    return RefundSplit(
        from_credit_minor=from_credit,
        from_card_minor=amount_minor - from_credit,
        card_as_credit=card_as_credit,
    )


def order_refund(
    *,
    order: Order,
    line_quantities: dict[int, int] | None = None,
    restock: bool = False,
    credit_first: bool = True,
    card_as_credit: bool = False,
    actor: User | AnonymousUser | None = None,
    request: HttpRequest | None = None,
) -> Order:
    """Refund the whole order (no lines given) or some units of some lines.

    The amount is split by ``refund_split``. The Stripe refund goes through
    billing outside any transaction; the wallet's share is credited with the
    order recorded, under its lock. Restocked units are written to the stock
    ledger as returns. A repeated submission built from the same state
    carries the same idempotency keys, so Stripe and the wallet refund once
    and the refund is recorded once. Raise RefundNotPossible.
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
    split = refund_split(
        order=order,
        amount_minor=amount,
        credit_first=credit_first,
        card_as_credit=card_as_credit,
    )
    if split.wallet_minor and order.user_id is None:
        raise RefundNotPossible("A guest order cannot be refunded as store credit.")
    # A gift card's money goes back only with the card itself.
    order_gift_cards_void_for_refund(lines=lines, plan=plan, actor=actor)
    key = f"refund:{order.number}:{order.refunded_minor}:{amount}"
    refund = None
    if split.stripe_minor:
        payment = billing_selectors.payment_latest_for_reference(reference=order.number)
        if payment is None or payment.status != IntentStatus.SUCCEEDED:
            raise RefundNotPossible("This order has no successful payment.")
        refund = billing_services.payment_refund(
            payment=payment,
            amount_minor=split.stripe_minor,
            idempotency_key=key,
            reason="staff refund",
        )
    return order_refund_apply(
        order_id=order.pk,
        refund=refund,
        plan=plan,
        restock=restock,
        actor=actor,
        request=request,
        split=split,
        wallet_key=f"{key}:wallet",
    )


def order_refund_apply(
    *,
    order_id: int,
    refund: PaymentRefund | None,
    plan: dict[int, int],
    restock: bool = False,
    actor: User | AnonymousUser | None = None,
    request: HttpRequest | None = None,
    split: RefundSplit | None = None,
    wallet_key: str = "",
) -> Order:
    """Record a refund (a Stripe refund, the wallet's share, or both)
    against the order and its lines, once; credit the wallet's share.

    Runs under the order's lock on freshly read lines: a refund already
    recorded (a double submission got the same refund back) changes nothing,
    and units are counted (and restocked) only up to what is left on a line.
    """
    wallet_minor = split.wallet_minor if split else 0
    refund_id = refund.refund_id if refund is not None else wallet_key
    total_minor = (refund.amount_minor if refund else 0) + wallet_minor
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order_id)
        if OrderEvent.objects.filter(
            order=locked, kind="refund", data__refund=refund_id
        ).exists():
            return locked
        if wallet_minor:
            order_credit_refund(
                order=locked,
                amount_minor=wallet_minor,
                idempotency_key=wallet_key,
                memo=f"Refund on order {locked.number}",
            )
            locked.credit_refunded_minor += split.from_credit_minor if split else 0
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
            locked.total_minor, locked.refunded_minor + total_minor
        )
        locked.save(
            update_fields=["refunded_minor", "credit_refunded_minor", "updated_at"]
        )
        _event(
            locked,
            kind="refund",
            source="admin",
            actor=actor,
            message=f"Refunded {total_minor} {locked.currency}"
            + (f" ({wallet_minor} as store credit)." if wallet_minor else "."),
            data={
                "refund": refund_id,
                "lines": applied,
                "restock": restock,
                "wallet_minor": wallet_minor,
            },
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
            data={"refund": refund_id, "amount": total_minor},
        )
        order_refunded_send(
            locked,
            refund_id=refund_id,
            amount_minor=total_minor,
            items=[(lines[pk], qty) for pk, qty in applied.items()],
            wallet_minor=wallet_minor,
        )
    return locked
