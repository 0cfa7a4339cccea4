"""Checkout and order reads with their ownership checks (404, never 403)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet
from django.db.models.functions import Lower

from apps.checkout.exceptions import CheckoutNotFound, OrderNotFound
from apps.checkout.models import Checkout, FailedWorkflow, Order

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
