"""Store-credit reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from apps.wallets.models import LedgerEntry, Wallet

if TYPE_CHECKING:
    from apps.accounts.models import User

HISTORY_LENGTH = 50


def wallet_list_for_user(*, user: User) -> list[Wallet]:
    """The user's wallets with their latest entries as ``recent_entries``
    (two queries, whatever the number of wallets and entries)."""
    wallets = list(Wallet.objects.filter(user=user).order_by("currency"))
    if not wallets:
        return []
    entries: dict[int, list[LedgerEntry]] = {w.pk: [] for w in wallets}
    recent = LedgerEntry.objects.filter(wallet__in=wallets).order_by(
        "-created_at", "-pk"
    )
    for entry in recent[: HISTORY_LENGTH * len(wallets)]:
        bucket = entries[entry.wallet_id]
        if len(bucket) < HISTORY_LENGTH:
            bucket.append(entry)
    for wallet in wallets:
        wallet.recent_entries = entries[wallet.pk]  # type: ignore[attr-defined]
    return wallets


def wallet_balance(*, user: User, currency: str) -> int:
    """Spendable credit in ``currency`` (0 without a wallet)."""
    wallet = Wallet.objects.filter(user=user, currency=currency.upper()).first()
    return wallet.balance_minor if wallet else 0


def wallet_balance_for_user_id(*, user_id: int, currency: str) -> int:
    """Spendable credit of a user known by id (0 without a wallet)."""
    balance = (
        Wallet.objects.filter(user_id=user_id, currency=currency.upper())
        .values_list("balance_minor", flat=True)
        .first()
    )
    return int(balance or 0)


def wallet_held_for(*, user_id: int, currency: str, reference: str) -> int:
    """Credit still held for ``reference`` (0 when never held, or released
    or captured since)."""
    held = LedgerEntry.objects.filter(
        wallet__user_id=user_id, wallet__currency=currency.upper(), reference=reference
    ).aggregate(held=Sum("held_delta_minor"))["held"]
    return int(held or 0)


@dataclass(frozen=True, slots=True)
class WalletDrift:
    wallet_id: int
    user_id: int
    currency: str
    balance_minor: int
    ledger_balance_minor: int
    held_minor: int
    ledger_held_minor: int


def wallets_with_drift() -> list[WalletDrift]:
    """Wallets whose balances differ from the sum of their entries.

    One aggregate query over the ledger; it reads and never edits.
    """
    rows: QuerySet[Wallet] = (
        Wallet.objects.annotate(
            ledger_balance=Coalesce(Sum("entries__amount_minor"), Value(0)),
            ledger_held=Coalesce(Sum("entries__held_delta_minor"), Value(0)),
        )
        .filter(~Q(balance_minor=F("ledger_balance")) | ~Q(held_minor=F("ledger_held")))
        .order_by("pk")
    )
    return [
        WalletDrift(
            wallet_id=w.pk,
            user_id=w.user_id,
            currency=w.currency,
            balance_minor=w.balance_minor,
            ledger_balance_minor=w.ledger_balance,  # type: ignore[attr-defined]
            held_minor=w.held_minor,
            ledger_held_minor=w.ledger_held,  # type: ignore[attr-defined]
        )
        for w in rows
    ]
