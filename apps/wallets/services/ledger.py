"""Store-credit writes. Each runs under the wallet's row lock and appends one
ledger entry in the same transaction as the balance change; every operation
carries an idempotency key, so a retried request or task posts once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.db.models import Sum

from apps.core.money import money_api
from apps.core.outbox import outbox_publish
from apps.wallets.exceptions import (
    HoldNotFound,
    InsufficientCredit,
    WalletAmountInvalid,
    WalletIdempotencyConflict,
)
from apps.wallets.models import LedgerEntry, Wallet

if TYPE_CHECKING:
    from django.contrib.auth.models import _AnyUser

    from apps.accounts.models import User

Kind = LedgerEntry.Kind
CREDIT_KINDS = frozenset(
    {Kind.GIFT_CARD_REDEEM, Kind.REFUND_CREDIT, Kind.GOODWILL, Kind.ADJUSTMENT}
)
DEBIT_KINDS = frozenset({Kind.EXPIRY, Kind.ADJUSTMENT})
_TOPICS: dict[str, str] = {
    Kind.ORDER_HOLD: "wallet.held",
    Kind.ORDER_RELEASE: "wallet.released",
    Kind.ORDER_CAPTURE: "wallet.debited",
}


def wallet_for(*, user: User, currency: str) -> Wallet:
    """Return the user's wallet in ``currency``, creating it on first use."""
    currency = currency.upper()
    try:
        with transaction.atomic():
            wallet, _ = Wallet.objects.get_or_create(user=user, currency=currency)
    except IntegrityError:
        # Two first credits at once: the other transaction created it.
        wallet = Wallet.objects.get(user=user, currency=currency)
    return wallet


def _positive(amount_minor: int) -> int:
    if not isinstance(amount_minor, int) or amount_minor <= 0:
        raise WalletAmountInvalid(
            "The amount must be a positive whole number of minor units.",
            details={"amount": amount_minor},
        )
    return amount_minor


@transaction.atomic
def _post(
    *,
    wallet_id: int,
    kind: str,
    amount_minor: int,
    held_delta_minor: int = 0,
    idempotency_key: str,
    reference: str = "",
    memo: str = "",
    actor: _AnyUser | None = None,
) -> LedgerEntry:
    """Append one entry and move the wallet's balances with it.

    A key already posted returns its entry when it describes the same
    operation (a retry) and raises WalletIdempotencyConflict otherwise.
    Raise InsufficientCredit when the balance would go below zero.
    """
    wallet = Wallet.objects.select_for_update().get(pk=wallet_id)
    existing = LedgerEntry.objects.filter(
        wallet=wallet, idempotency_key=idempotency_key
    ).first()
    if existing is not None:
        if (existing.kind, existing.amount_minor, existing.held_delta_minor) != (
            kind,
            amount_minor,
            held_delta_minor,
        ):
            raise WalletIdempotencyConflict(
                "This request key was already used for a different change.",
                details={"idempotency_key": idempotency_key},
            )
        return existing
    balance = wallet.balance_minor + amount_minor
    held = wallet.held_minor + held_delta_minor
    if balance < 0:
        raise InsufficientCredit(
            "There is not enough store credit for this.",
            details={
                "available": money_api(wallet.balance_minor, wallet.currency),
                "requested": money_api(-amount_minor, wallet.currency),
            },
        )
    if held < 0:
        raise HoldNotFound(
            "No credit is held for this.", details={"reference": reference}
        )
    wallet.balance_minor, wallet.held_minor = balance, held
    wallet.save(update_fields=["balance_minor", "held_minor", "updated_at"])
    entry = LedgerEntry.objects.create(
        wallet=wallet,
        kind=kind,
        amount_minor=amount_minor,
        held_delta_minor=held_delta_minor,
        idempotency_key=idempotency_key,
        reference=reference,
        memo=memo[:255],
        actor=actor if actor is not None and actor.is_authenticated else None,
    )
    topic = _TOPICS.get(kind) or (
        "wallet.credited" if amount_minor > 0 else "wallet.debited"
    )
    outbox_publish(
        topic=topic,
        aggregate_type="wallet",
        aggregate_id=wallet.pk,
        payload={
            "wallet": wallet.pk,
            "user": wallet.user_id,
            "entry": entry.pk,
            "kind": kind,
            "amount": money_api(abs(amount_minor or held_delta_minor), wallet.currency),
            "balance": money_api(balance, wallet.currency),
            "reference": reference,
        },
    )
    return entry


def wallet_credit(
    *,
    user: User,
    currency: str,
    amount_minor: int,
    kind: str,
    idempotency_key: str,
    reference: str = "",
    memo: str = "",
    actor: _AnyUser | None = None,
) -> LedgerEntry:
    """Add credit (gift card, refund, goodwill, staff adjustment).

    Raise WalletAmountInvalid for a non-positive amount or a kind that does
    not add credit.
    """
    if kind not in CREDIT_KINDS:
        raise WalletAmountInvalid(
            f"{kind} does not add credit.", details={"kind": kind}
        )
    wallet = wallet_for(user=user, currency=currency)
    return _post(
        wallet_id=wallet.pk,
        kind=kind,
        amount_minor=_positive(amount_minor),
        idempotency_key=idempotency_key,
        reference=reference,
        memo=memo,
        actor=actor,
    )


def wallet_debit(
    *,
    user: User,
    currency: str,
    amount_minor: int,
    kind: str,
    idempotency_key: str,
    reference: str = "",
    memo: str = "",
    actor: _AnyUser | None = None,
) -> LedgerEntry:
    """Take credit away (expiry, staff adjustment, a voided gift card).

    Raise InsufficientCredit when it is more than the spendable balance.
    """
    if kind not in DEBIT_KINDS:
        raise WalletAmountInvalid(
            f"{kind} does not take credit.", details={"kind": kind}
        )
    wallet = wallet_for(user=user, currency=currency)
    return _post(
        wallet_id=wallet.pk,
        kind=kind,
        amount_minor=-_positive(amount_minor),
        idempotency_key=idempotency_key,
        reference=reference,
        memo=memo,
        actor=actor,
    )


def wallet_hold(
    *, user: User, currency: str, amount_minor: int, reference: str
) -> LedgerEntry:
    """Set credit aside for an order awaiting payment (one hold per reference).

    Raise InsufficientCredit when the balance cannot cover it.
    """
    wallet = wallet_for(user=user, currency=currency)
    amount = _positive(amount_minor)
    return _post(
        wallet_id=wallet.pk,
        kind=Kind.ORDER_HOLD,
        amount_minor=-amount,
        held_delta_minor=amount,
        idempotency_key=f"hold:{reference}",
        reference=reference,
    )


def _held_for(wallet: Wallet, reference: str) -> int:
    held = LedgerEntry.objects.filter(wallet=wallet, reference=reference).aggregate(
        held=Sum("held_delta_minor")
    )["held"]
    return int(held or 0)


def wallet_capture(*, user: User, currency: str, reference: str) -> LedgerEntry:
    """Spend the credit held for ``reference`` (the order was paid).

    Safe to repeat. Raise HoldNotFound when nothing is held (never held, or
    already released).
    """
    wallet = wallet_for(user=user, currency=currency)
    with transaction.atomic():
        Wallet.objects.select_for_update().get(pk=wallet.pk)
        key = f"capture:{reference}"
        done = LedgerEntry.objects.filter(wallet=wallet, idempotency_key=key).first()
        if done is not None:
            return done
        held = _held_for(wallet, reference)
        if held <= 0:
            raise HoldNotFound(
                "No credit is held for this order.", details={"reference": reference}
            )
        return _post(
            wallet_id=wallet.pk,
            kind=Kind.ORDER_CAPTURE,
            amount_minor=0,
            held_delta_minor=-held,
            idempotency_key=key,
            reference=reference,
        )


def wallet_release(*, user: User, currency: str, reference: str) -> LedgerEntry | None:
    """Give the credit held for ``reference`` back (payment failed, order
    abandoned or expired). Safe to repeat; None when nothing is held, so a
    sweep may call it for any order, captured or not.
    """
    wallet = wallet_for(user=user, currency=currency)
    with transaction.atomic():
        Wallet.objects.select_for_update().get(pk=wallet.pk)
        key = f"release:{reference}"
        done = LedgerEntry.objects.filter(wallet=wallet, idempotency_key=key).first()
        if done is not None:
            return done
        held = _held_for(wallet, reference)
        if held <= 0:
            return None
        return _post(
            wallet_id=wallet.pk,
            kind=Kind.ORDER_RELEASE,
            amount_minor=held,
            held_delta_minor=-held,
            idempotency_key=key,
            reference=reference,
        )
