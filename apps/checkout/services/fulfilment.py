"""Staff work on paid orders: shipments of some units of some lines, and notes.

An order is fulfilled once every unit not refunded has shipped; the move goes
through the order state machine (``order_transition``), never an assignment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Sum

from apps.checkout.exceptions import FulfilmentNotPossible
from apps.checkout.models import (
    ORDER_STATES,
    Fulfilment,
    FulfilmentLine,
    Order,
    OrderNote,
)
from apps.checkout.services.customer_messages import order_shipped_send
from apps.checkout.services.orders import (
    _event,
    _status_event,
    order_transition,
)
from apps.core.audit import audit_log
from apps.core.exceptions import ValidationFailed

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from apps.accounts.models import User

ST = Order.Status
SHIPPABLE_STATUSES = (ST.PAID, ST.PARTIALLY_REFUNDED)


def order_line_quantities_unshipped(*, order: Order) -> dict[int, int]:
    """Return, per line id, the units neither shipped nor refunded yet."""
    lines = list(order.lines.all())
    shipped = dict(
        FulfilmentLine.objects.filter(order_line__order=order)
        .values("order_line")
        .annotate(units=Sum("quantity"))
        .values_list("order_line", "units")
    )
    return {
        line.pk: max(
            0, line.quantity - line.refunded_quantity - shipped.get(line.pk, 0)
        )
        for line in lines
    }


def fulfilment_create(
    *,
    order_id: int,
    quantities: dict[int, int] | None = None,
    carrier: str = "",
    tracking_number: str = "",
    actor: User | AnonymousUser | None = None,
) -> Fulfilment:
    """Ship ``quantities`` (line id → units; all that is left when None).

    Emails the shopper the carrier and tracking number. The order becomes
    fulfilled when nothing is left to ship. Raise FulfilmentNotPossible.
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status not in SHIPPABLE_STATUSES:
            raise FulfilmentNotPossible(
                f"A {order.get_status_display().lower()} order cannot be shipped."
            )
        left = order_line_quantities_unshipped(order=order)
        plan = _shipment_plan(left, quantities)
        fulfilment = Fulfilment(
            order=order,
            carrier=carrier.strip()[:64],
            tracking_number=tracking_number.strip()[:128],
            created_by=actor if actor is not None and actor.is_authenticated else None,
        )
        fulfilment.full_clean()
        fulfilment.save()
        FulfilmentLine.objects.bulk_create(
            FulfilmentLine(fulfilment=fulfilment, order_line_id=pk, quantity=qty)
            for pk, qty in plan.items()
        )
        if fulfilment.tracking_number or fulfilment.carrier:
            # The latest parcel is what the order page and the email show.
            order.carrier = fulfilment.carrier
            order.tracking_number = fulfilment.tracking_number
            order.save(update_fields=["carrier", "tracking_number", "updated_at"])
        units = sum(plan.values())
        _event(
            order,
            kind="fulfilment",
            source="admin",
            actor=actor,
            message=_shipped_message(units, fulfilment),
            data={"fulfilment": fulfilment.pk, "lines": plan},
        )
        if all(left[pk] - plan.get(pk, 0) <= 0 for pk in left):
            order_transition(
                order_id=order.pk,
                to=ST.FULFILLED,
                source="admin",
                actor=actor,
                message="Every unit has shipped.",
            )
        audit_log(
            action="fulfilment_created",
            actor=actor,
            obj=order,
            data={"fulfilment": fulfilment.pk, "units": units},
        )
        order_shipped_send(order, fulfilment=fulfilment)
    return fulfilment


def _shipment_plan(
    left: dict[int, int], quantities: dict[int, int] | None
) -> dict[int, int]:
    if quantities is None:
        plan = {pk: qty for pk, qty in left.items() if qty > 0}
    else:
        plan = {}
        for pk, qty in quantities.items():
            qty = int(qty)
            if qty == 0:
                continue
            if int(pk) not in left or qty < 0 or qty > left[int(pk)]:
                raise FulfilmentNotPossible(
                    "Ship at most the units left to ship on each line."
                )
            plan[int(pk)] = qty
    if not plan:
        raise FulfilmentNotPossible("Nothing is left to ship on this order.")
    return plan


def _shipped_message(units: int, fulfilment: Fulfilment) -> str:
    via = f" with {fulfilment.carrier}" if fulfilment.carrier else ""
    tracking = f" ({fulfilment.tracking_number})" if fulfilment.tracking_number else ""
    return f"Shipped {units} unit(s){via}{tracking}."


def order_note_add(
    *, order_id: int, author: User | AnonymousUser | None, body: str
) -> OrderNote:
    """Add an internal note to the order. Raise ValidationFailed when empty."""
    text = body.strip()
    if not text:
        raise ValidationFailed("Write something in the note.")
    note = OrderNote(
        order=Order.objects.get(pk=order_id),
        author=author if author is not None and author.is_authenticated else None,
        body=text,
    )
    note.full_clean()
    note.save()
    return note


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
        ORDER_STATES.move(
            locked,
            ST.FULFILLED,
            event=_status_event(
                source="admin",
                actor=actor,
                message=f"Shipped with {carrier} ({tracking_number}).",
            ),
        )
        order_shipped_send(locked)
    return locked
