"""Checkout and order reads with their ownership checks (404, never 403)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from django.db.models import F, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce, Lower

from apps.checkout.exceptions import CheckoutNotFound, OrderNotFound
from apps.checkout.models import (
    Checkout,
    FailedWorkflow,
    Fulfilment,
    FulfilmentLine,
    Order,
    OrderLine,
    OrderNote,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from apps.accounts.models import User


def checkout_get(
    *, checkout_id: uuid.UUID | str, user: User | AnonymousUser | None = None
) -> Checkout:
    """Return the checkout if this client may see it.

    A signed-in shopper's checkout answers only to them; an anonymous one is
    reached by its unguessable id. Raise CheckoutNotFound otherwise.
    """
    try:
        checkout = Checkout.objects.select_related(
            "cart", "shipping_method", "user"
        ).get(pk=checkout_id)
    except (Checkout.DoesNotExist, ValueError, TypeError):
        raise CheckoutNotFound("Checkout not found.") from None
    owner = checkout.user_id or checkout.cart.user_id
    if owner is not None and (
        user is None or not user.is_authenticated or user.pk != owner
    ):
        raise CheckoutNotFound("Checkout not found.")
    return checkout


def checkout_get_for_cart(*, cart_id: uuid.UUID | str) -> Checkout | None:
    return (
        Checkout.objects.select_related("cart", "shipping_method", "user")
        .filter(cart_id=cart_id)
        .first()
    )


def _verified_emails(user: User) -> list[str]:
    from allauth.account.models import EmailAddress

    return [
        e.lower()
        for e in EmailAddress.objects.filter(user=user, verified=True).values_list(
            "email", flat=True
        )
    ]


def order_list_for_user(*, user: User | AnonymousUser | None) -> QuerySet[Order]:
    """The user's orders plus guest orders placed with a verified email of theirs.

    Pending-payment orders are left out; emails match whatever their case.
    """
    if user is None or not user.is_authenticated:
        return Order.objects.none()
    emails = _verified_emails(user)
    condition = Q(user=user)
    if emails:
        condition |= Q(user__isnull=True, email_lower__in=emails)
    return (
        Order.objects.alias(email_lower=Lower("email"))
        .filter(condition)
        .exclude(status=Order.Status.PENDING_PAYMENT)
        .order_by("-created_at", "-pk")
    )


def order_get_for_user(*, user: User | AnonymousUser | None, number: str) -> Order:
    """Return one of the user's orders with its lines. Raise OrderNotFound."""
    order = (
        order_list_for_user(user=user)
        .filter(number=number)
        .prefetch_related("lines")
        .first()
    )
    if order is None:
        raise OrderNotFound("Order not found.")
    return order


def order_get_for_checkout(*, checkout: Checkout) -> Order:
    order = Order.objects.filter(checkout=checkout).prefetch_related("lines").first()
    if order is None:
        raise OrderNotFound("This checkout has no order yet.")
    return order


def order_get_by_number(*, number: str) -> Order:
    order = Order.objects.filter(number=number).prefetch_related("lines").first()
    if order is None:
        raise OrderNotFound("Order not found.")
    return order


def order_detail_for_admin(*, order_id: int) -> Order:
    return Order.objects.prefetch_related("lines", "events").get(pk=order_id)


def failed_workflows_open() -> QuerySet[FailedWorkflow]:
    return FailedWorkflow.objects.filter(status=FailedWorkflow.Status.OPEN)


# --- back office -----------------------------------------------------------------


def _sum_per_order(queryset: QuerySet, order_path: str, expression: object) -> Coalesce:
    """A correlated subquery summing ``expression`` over one order's rows.

    A subquery rather than a join so that two sums never multiply each other.
    """
    summed = (
        queryset.filter(**{order_path: OuterRef("pk")})
        .order_by()
        .values(order_path)
        .annotate(total=Sum(expression))
        .values("total")
    )
    return Coalesce(Subquery(summed, output_field=IntegerField()), 0)


def order_list_for_admin(queryset: QuerySet[Order]) -> QuerySet[Order]:
    """Orders with ``item_count``, ``units_to_ship`` and ``units_shipped``.

    The customer comes joined, so a changelist costs the same for 1 or 100 rows.
    """
    return queryset.select_related("user").annotate(
        item_count=_sum_per_order(OrderLine.objects.all(), "order", F("quantity")),
        units_to_ship=_sum_per_order(
            OrderLine.objects.all(), "order", F("quantity") - F("refunded_quantity")
        ),
        units_shipped=_sum_per_order(
            FulfilmentLine.objects.all(), "order_line__order", F("quantity")
        ),
    )


def order_fulfilment_state(order: Order) -> str:
    """Describe how much of an annotated order (see above) has shipped."""
    if order.status in (Order.Status.PENDING_PAYMENT, Order.Status.CANCELLED):
        return "—"
    if order.status == Order.Status.FULFILLED:
        return "shipped"
    to_ship = getattr(order, "units_to_ship", 0)
    shipped = getattr(order, "units_shipped", 0)
    if to_ship <= 0:
        return "nothing to ship"
    if shipped <= 0:
        return "awaiting shipment"
    if shipped >= to_ship:
        return "shipped"
    return f"partially shipped ({shipped} of {to_ship})"


def order_customer_name(order: Order) -> str:
    """The customer's name: their account's, else the one on the address."""
    user = order.user
    if user is not None:
        name = user.name or f"{user.first_name} {user.last_name}".strip()
        if name:
            return name
    address = order.shipping_address or order.billing_address or {}
    return str(address.get("name") or "")


def orders_of_customer(
    *, email: str, user_id: int | None, exclude_id: int | None = None, limit: int = 20
) -> list[Order]:
    """The customer's orders (their account's, or placed with their email)."""
    condition = Q(email__iexact=email)
    if user_id is not None:
        condition |= Q(user_id=user_id)
    queryset = Order.objects.filter(condition).order_by("-created_at", "-pk")
    if exclude_id is not None:
        queryset = queryset.exclude(pk=exclude_id)
    return list(queryset[:limit])


def order_notes(*, order_id: int) -> QuerySet[OrderNote]:
    return OrderNote.objects.filter(order_id=order_id).select_related("author")


def order_fulfilments(*, order_id: int) -> QuerySet[Fulfilment]:
    return (
        Fulfilment.objects.filter(order_id=order_id)
        .select_related("created_by")
        .prefetch_related("lines__order_line")
    )


def order_lines_with_shipped(queryset: QuerySet[OrderLine]) -> QuerySet[OrderLine]:
    """Lines with ``units_shipped`` (summed over their parcels) and their order."""
    shipped = (
        FulfilmentLine.objects.filter(order_line=OuterRef("pk"))
        .order_by()
        .values("order_line")
        .annotate(total=Sum("quantity"))
        .values("total")
    )
    return queryset.select_related("order").annotate(
        units_shipped=Coalesce(Subquery(shipped, output_field=IntegerField()), 0)
    )


def orders_waiting_for_fulfilment(queryset: QuerySet[Order]) -> QuerySet[Order]:
    """Paid orders with units left to ship; ``queryset`` from order_list_for_admin."""
    return queryset.filter(
        Q(units_shipped__lt=F("units_to_ship")),
        status__in=[Order.Status.PAID, Order.Status.PARTIALLY_REFUNDED],
        requires_shipping=True,
    )
