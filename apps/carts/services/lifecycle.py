"""Cart life: creation, the row lock and version bump every write goes
through, the payment lock, state moves and expiry.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from apps.carts import selectors
from apps.carts.exceptions import (
    CartLocked,
    CartNotOpen,
    CartVersionConflict,
)
from apps.carts.models import CART_STATES, Cart

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from apps.accounts.models import User


def _abandon_after() -> datetime.timedelta:
    return datetime.timedelta(days=int(getattr(settings, "CART_ABANDON_AFTER_DAYS", 7)))


def _default_currency() -> str:
    return getattr(settings, "CART_DEFAULT_CURRENCY", "USD")


def _max_lines() -> int:
    return int(getattr(settings, "CART_MAX_LINES", 100))


def cart_create(
    *, user: User | AnonymousUser | None = None, currency: str | None = None
) -> tuple[Cart, bool]:
    """Return the user's open cart, or a new cart; the flag says it was created."""
    if user is not None and user.is_authenticated:
        existing = selectors.cart_get_open_for_user(user=user)
        if existing:
            return existing, False
    cart = Cart(
        user=user if user is not None and user.is_authenticated else None,
        currency=(currency or _default_currency()).upper(),
        expires_at=timezone.now() + _abandon_after(),
    )
    cart.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            cart.save()
    except IntegrityError:
        # A parallel request (double click) created the user's open cart first.
        existing = selectors.cart_get_open_for_user(user=user)
        if existing is None:
            raise
        return existing, False
    return cart, True


def _lock(cart: Cart, expected_version: int | None) -> Cart:
    locked = Cart.objects.select_for_update().get(pk=cart.pk)
    if expected_version is not None and expected_version != locked.version:
        raise CartVersionConflict(
            f"The cart changed (version {locked.version}, you sent "
            f"{expected_version}); reload it and try again.",
            details={"current_version": locked.version},
        )
    if locked.status != Cart.Status.OPEN:
        raise CartNotOpen(f"This cart is {locked.status} and can no longer change.")
    if locked.is_locked:
        raise CartLocked(
            "Payment has started for this cart. To change it, choose "
            "“Change cart” (the payment is cancelled first).",
            details={"locked_at": str(locked.locked_at)},
        )
    return locked


def cart_payment_lock(*, cart_id: uuid.UUID) -> None:
    """Freeze the cart's lines and coupons while a payment is started for it.

    Call inside the transaction that prices the cart for the payment, so
    every later write (they all lock the row first) sees the lock and raises
    CartLocked instead of changing what is being charged. One conditional
    UPDATE (it takes the row lock itself): a cart locked already is left as
    it is, with no read first.
    """
    now = timezone.now()
    Cart.objects.filter(pk=cart_id, locked_at__isnull=True).update(
        locked_at=now, updated_at=now
    )


def cart_payment_unlock(*, cart_id: uuid.UUID | None) -> None:
    """Let the cart change again (its payment was cancelled); safe to repeat."""
    if cart_id is not None:
        Cart.objects.filter(pk=cart_id, locked_at__isnull=False).update(
            locked_at=None, updated_at=timezone.now()
        )


def _touch(cart: Cart) -> Cart:
    now = timezone.now()
    cart.version += 1
    cart.updated_at = now
    cart.expires_at = now + _abandon_after()
    cart.save(update_fields=["version", "updated_at", "expires_at"])
    return cart


@transaction.atomic
def cart_transition(*, cart_id: uuid.UUID, to: str) -> Cart:
    """Move a cart between states (checkout marks it checked_out).

    A move to the current state is a no-op. Raise InvalidTransition otherwise.
    """
    return CART_STATES.move_by_pk(cart_id, to)


def cart_mark_checked_out(*, cart_id: uuid.UUID) -> None:
    """Close a paid cart: open (or abandoned, through open) → checked_out.

    Conditional UPDATEs through CART_STATES, so the common case (an open
    cart) costs one statement, with no lock-and-read or savepoint first. A
    cart checked out already, or deleted, is left alone (a redelivered
    payment event).
    """
    rows = Cart.objects.filter(pk=cart_id)
    if CART_STATES.move_many(rows, Cart.Status.CHECKED_OUT):
        return
    # Abandoned while the payment was under way: the table goes through open.
    if CART_STATES.move_many(rows, Cart.Status.OPEN):
        CART_STATES.move_many(rows, Cart.Status.CHECKED_OUT)


@dataclass(frozen=True, slots=True)
class ExpiryResult:
    abandoned: int
    deleted: int


def carts_expire(*, now: datetime.datetime | None = None) -> ExpiryResult:
    """Mark carts idle for CART_ABANDON_AFTER_DAYS as abandoned, and delete
    anonymous carts idle for CART_DELETE_ANONYMOUS_AFTER_DAYS. Safe to rerun.
    """
    now = now or timezone.now()
    delete_after = datetime.timedelta(
        days=int(getattr(settings, "CART_DELETE_ANONYMOUS_AFTER_DAYS", 30))
    )
    with transaction.atomic():
        stale = list(
            Cart.objects.filter(
                user__isnull=True,
                status__in=[Cart.Status.OPEN, Cart.Status.ABANDONED],
                updated_at__lt=now - delete_after,
            ).values_list("pk", flat=True)
        )
        Cart.objects.filter(pk__in=stale).delete()
        # updated_at stays the last activity, so the anonymous-cart deletion
        # clock is not restarted by abandoning.
        abandoned = CART_STATES.move_many(
            Cart.objects.filter(updated_at__lt=now - _abandon_after()),
            Cart.Status.ABANDONED,
            updated_at=F("updated_at"),
        )
    return ExpiryResult(abandoned=abandoned, deleted=len(stale))
