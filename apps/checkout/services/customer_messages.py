"""The emails a customer receives about an order."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from apps.checkout.models import Fulfilment, Order, OrderLine
from apps.checkout.services.orders import order_public_url
from apps.core.notifications import notification_enqueue_template


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


def order_apology_send(order: Order, *, reason: str) -> None:
    """Tell the customer a paid order was cancelled and refunded, and why."""
    notification_enqueue_template(
        kind="checkout.order_apology",
        recipient=order.email,
        idempotency_key=f"checkout.order_apology:{order.number}",
        template_prefix="checkout/email/order_apology",
        context={"order": order, "lines": list(order.lines.all()), "reason": reason},
    )


def order_shipped_send(order: Order, *, fulfilment: Fulfilment | None = None) -> None:
    """Email the tracking details: of one shipment, or of the whole order."""
    key = f"checkout.order_shipped:{order.number}"
    context: dict[str, object] = {"order": order, "url": order_public_url(order)}
    if fulfilment is not None:
        key += f":{fulfilment.pk}"
        context["fulfilment"] = fulfilment
    notification_enqueue_template(
        kind="checkout.order_shipped",
        recipient=order.email,
        idempotency_key=key,
        template_prefix="checkout/email/order_shipped",
        context=context,
    )


def order_cancelled_send(order: Order, *, reason: str) -> None:
    """Tell the customer an unpaid order was cancelled, once per order.

    Only the abandoned-order sweep sends it: a shopper who pressed "change
    cart" (also a cancelled intent) is still shopping and must not be told so.
    """
    notification_enqueue_template(
        kind="checkout.order_cancelled",
        recipient=order.email,
        idempotency_key=f"checkout.order_cancelled:{order.number}",
        template_prefix="checkout/email/order_cancelled",
        context={
            "order": order,
            "lines": list(order.lines.all()),
            "reason": reason,
            "shop_url": settings.SITE_URL,
        },
    )


def order_refunded_send(
    order: Order,
    *,
    refund_id: str,
    amount_minor: int,
    items: list[tuple[OrderLine, int]],
    wallet_minor: int = 0,
) -> None:
    """Tell the customer what was refunded (to the card, and as store
    credit), once per refund."""
    notification_enqueue_template(
        kind="checkout.order_refunded",
        recipient=order.email,
        idempotency_key=f"checkout.order_refunded:{refund_id}",
        template_prefix="checkout/email/order_refunded",
        context={
            "order": order,
            "amount_minor": amount_minor,
            "card_minor": amount_minor - wallet_minor,
            "wallet_minor": wallet_minor,
            "items": [{"title": line.title, "quantity": qty} for line, qty in items],
            "refunded_at": timezone.now(),
            "fully_refunded": order.refunded_minor >= order.total_minor,
            "url": order_public_url(order),
        },
    )
