"""Orders: numbers, guest links, and every status move with its event row."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse

from apps.checkout.models import ORDER_STATES, Order, OrderEvent
from apps.core.money import money_api
from apps.core.outbox import outbox_publish
from apps.core.state import EventWriter

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from apps.accounts.models import User


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


def _status_event(
    *,
    source: str = "",
    actor: User | AnonymousUser | None = None,
    message: str = "",
) -> EventWriter:
    """The ``event=`` hook of ORDER_STATES.move: one OrderEvent per move.

    Every move also publishes ``order.<new status>`` (``order.paid``,
    ``order.fulfilled``…) to the outbox, in the same transaction.
    """

    def write(order: Order, from_status: str, to_status: str) -> None:
        _event(
            order,
            source=source,
            actor=actor,
            message=message,
            from_status=from_status,
            to_status=to_status,
        )
        outbox_publish(
            topic=f"order.{to_status}",
            payload=_order_payload(order, from_status=from_status),
            aggregate_type="order",
            aggregate_id=order.pk,
        )

    return write


def _order_payload(order: Order, *, from_status: str) -> dict[str, Any]:
    return {
        "order": order.number,
        "status": order.status,
        "from_status": from_status,
        "user": order.user_id,
        "email": order.email,
        "total": money_api(order.total_minor, order.currency),
        "refunded": money_api(order.refunded_minor, order.currency),
    }


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
        ORDER_STATES.move(
            order, to, event=_status_event(source=source, actor=actor, message=message)
        )
        return order


def _reservation_ref(order: Order) -> str:
    return f"checkout:{order.checkout_id}" if order.checkout_id else order.number
