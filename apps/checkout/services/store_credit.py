"""Store credit in checkout: the shopper's choice, and the order's wallet hold
(held at payment start, captured when paid, released when it is not)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from django.db import transaction

from apps.checkout.models import Checkout, Order
from apps.checkout.services.checkout import _lock_editable
from apps.checkout.services.pricing import checkout_credit_held
from apps.core.money import money_api
from apps.wallets import selectors as wallet_selectors
from apps.wallets import services as wallet_services
from apps.wallets.exceptions import (
    HoldNotFound,
    InsufficientCredit,
    WalletAmountInvalid,
)
from apps.wallets.models import LedgerEntry

if TYPE_CHECKING:
    from apps.accounts.models import User
    from apps.checkout.services.pricing import Totals


def checkout_set_credit(*, checkout: Checkout, amount_minor: int | None) -> Checkout:
    """Choose how much store credit to spend: ``None`` for all that is
    available (the default), 0 for none, or up to ``amount_minor``.

    Raise WalletAmountInvalid for a negative amount or a guest checkout,
    InsufficientCredit when it is more than the balance, InvalidTransition
    when the checkout can no longer change.
    """
    if amount_minor is not None and (
        not isinstance(amount_minor, int) or amount_minor < 0
    ):
        raise WalletAmountInvalid(
            "The store credit to use must be zero or more.",
            details={"amount": amount_minor},
        )
    with transaction.atomic():
        locked = _lock_editable(checkout.pk)
        if locked.user_id is None:
            raise WalletAmountInvalid(
                "Sign in to use store credit.", details={"amount": amount_minor}
            )
        if amount_minor:
            balance = wallet_selectors.wallet_balance_for_user_id(
                user_id=locked.user_id, currency=locked.cart.currency
            ) + (checkout_credit_held(locked) if locked.totals_fingerprint else 0)
            if amount_minor > balance:
                raise InsufficientCredit(
                    "There is not enough store credit for this.",
                    details={
                        "available": money_api(balance, locked.cart.currency),
                        "requested": money_api(amount_minor, locked.cart.currency),
                    },
                )
        locked.credit_requested_minor = amount_minor
        locked.save(update_fields=["credit_requested_minor", "updated_at"])
    return locked


def _owner(order: Order) -> User:
    if order.user is None:
        raise HoldNotFound(
            "A guest order holds no store credit.", details={"order": order.number}
        )
    return order.user


def _new_ref(order: Order) -> str:
    # Fresh per hold: a released hold's keys are spent, a new hold needs its own.
    return f"order:{order.number}:{uuid.uuid4().hex[:12]}"


def order_credit_hold(*, order: Order, totals: Totals) -> None:
    """Hold the order's store-credit part in the wallet (payment start).

    Call inside the transaction that placed the pending order, with the
    totals it was placed from. A hold that already matches is kept; one for
    another amount is released and replaced. No query when no credit is
    involved. Raise InsufficientCredit when the balance cannot cover it.
    """
    if totals.credit_short:
        raise InsufficientCredit(
            "There is no longer enough store credit for the amount chosen.",
            details={"order": order.number},
        )
    amount, ref = order.credit_minor, order.credit_hold_ref
    if ref and order.user_id is not None:
        held = wallet_selectors.wallet_held_for(
            user_id=order.user_id, currency=order.currency, reference=ref
        )
        if held == amount:
            return
        if held:
            wallet_services.wallet_release(
                user=_owner(order), currency=order.currency, reference=ref
            )
    if not amount:
        if ref:
            order.credit_hold_ref = ""
            order.save(update_fields=["credit_hold_ref", "updated_at"])
        return
    ref = _new_ref(order)
    wallet_services.wallet_hold(
        user=_owner(order), currency=order.currency, amount_minor=amount, reference=ref
    )
    order.credit_hold_ref = ref
    order.save(update_fields=["credit_hold_ref", "updated_at"])


def order_credit_capture(*, order: Order) -> LedgerEntry | None:
    """Spend the order's held credit (the order is being marked paid).

    A hold released meanwhile (the card was declined, then a retry on the
    same intent succeeded) is taken again first. Raise InsufficientCredit
    when it cannot be: the order cannot be paid as priced.
    """
    if not order.credit_minor:
        return None
    user = _owner(order)
    try:
        return wallet_services.wallet_capture(
            user=user, currency=order.currency, reference=order.credit_hold_ref
        )
    except HoldNotFound:
        ref = _new_ref(order)
        wallet_services.wallet_hold(
            user=user,
            currency=order.currency,
            amount_minor=order.credit_minor,
            reference=ref,
        )
        order.credit_hold_ref = ref
        order.save(update_fields=["credit_hold_ref", "updated_at"])
        return wallet_services.wallet_capture(
            user=user, currency=order.currency, reference=ref
        )


def order_credit_release(*, order: Order) -> LedgerEntry | None:
    """Give the order's held credit back (declined, abandoned, expired,
    cancelled or unfulfillable). Safe to repeat; None when nothing is held."""
    if not order.credit_minor or not order.credit_hold_ref:
        return None
    return wallet_services.wallet_release(
        user=_owner(order), currency=order.currency, reference=order.credit_hold_ref
    )


def order_credit_refund(
    *, order: Order, amount_minor: int, idempotency_key: str, memo: str = ""
) -> LedgerEntry:
    """Put ``amount_minor`` of a paid order back into its customer's wallet
    as ``refund_credit``. Raise HoldNotFound for a guest order."""
    return wallet_services.wallet_credit(
        user=_owner(order),
        currency=order.currency,
        amount_minor=amount_minor,
        kind=LedgerEntry.Kind.REFUND_CREDIT,
        idempotency_key=idempotency_key,
        reference=f"order:{order.number}",
        memo=memo,
    )
