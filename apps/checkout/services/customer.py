"""A shopper's orders and their account: reorder, and linking a guest order
to the account created from its confirmation page."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.db import transaction

from apps.carts import services as cart_services
from apps.checkout.models import Order
from apps.core.exceptions import ApplicationError

if TYPE_CHECKING:
    from apps.accounts.models import User
    from apps.carts.models import Cart


@dataclass
class ReorderResult:
    cart: Cart
    added: list[str] = field(default_factory=list)
    # (line title, why it was left out) — shown to the shopper as is.
    skipped: list[tuple[str, str]] = field(default_factory=list)


def order_reorder(*, order: Order, user: User) -> ReorderResult:
    """Add each line of ``order`` to the user's open cart, at today's price.

    Lines are added one by one so one that can no longer be sold (deleted,
    inactive, out of stock, another currency) is reported and the rest are
    still added.
    """
    cart, _ = cart_services.cart_create(user=user, currency=order.currency)
    result = ReorderResult(cart=cart)
    for line in order.lines.all():
        if line.variant_id is None:
            result.skipped.append((line.title, "it is no longer sold."))
            continue
        try:
            result.cart = _add(result.cart, line.sku, line.quantity)
        except _PartlyAdded as partly:
            result.cart = partly.cart
            result.added.append(line.title)
            result.skipped.append(
                (line.title, f"only {partly.available} of {line.quantity} are left.")
            )
            continue
        except ApplicationError as exc:
            result.skipped.append((line.title, _why(exc)))
            continue
        result.added.append(line.title)
    return result


class _PartlyAdded(Exception):
    def __init__(self, cart: Cart, available: int) -> None:
        self.cart, self.available = cart, available


def _add(cart: Cart, sku: str, quantity: int) -> Cart:
    """Add the line; when fewer units are left, add those (raise _PartlyAdded)."""
    try:
        return cart_services.cart_line_add(cart=cart, sku=sku, quantity=quantity)
    except ApplicationError as exc:
        available = (exc.details or {}).get("available")
        if exc.code != "quantity_exceeds_availability" or not available:
            raise
    cart = cart_services.cart_line_add(cart=cart, sku=sku, quantity=available)
    raise _PartlyAdded(cart, available)


def _why(exc: ApplicationError) -> str:
    """The reason in the shopper's words (the cart's messages name SKUs)."""
    if exc.code == "variant_unavailable":
        return "it is no longer sold."
    if exc.code == "quantity_exceeds_availability":
        return "it is out of stock."
    return exc.message


@transaction.atomic
def order_link_user(*, order: Order, user: User) -> Order:
    """Attach a guest order to the account just created for its email.

    An order that already belongs to someone is left alone. Other guest
    orders under the same email join the account's history once the address
    is verified (see selectors.order_list_for_user), not before.
    """
    Order.objects.filter(pk=order.pk, user__isnull=True).update(user=user)
    order.refresh_from_db(fields=["user"])
    return order
