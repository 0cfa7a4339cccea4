"""Store credit: every change is one ledger entry, balances never go negative."""

import pytest
from django.core.management import CommandError, call_command

from apps.core.models import OutboxEvent
from apps.wallets import services
from apps.wallets.exceptions import (
    HoldNotFound,
    InsufficientCredit,
    WalletAmountInvalid,
    WalletIdempotencyConflict,
)
from apps.wallets.models import LedgerEntry, Wallet
from apps.wallets.selectors import wallets_with_drift
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db
Kind = LedgerEntry.Kind


def _credit(user, amount=10_000, key="gift-1", currency="USD"):
    return services.wallet_credit(
        user=user,
        currency=currency,
        amount_minor=amount,
        kind=Kind.GOODWILL,
        idempotency_key=key,
    )


def _wallet(user, currency="USD"):
    return Wallet.objects.get(user=user, currency=currency)


def test_wallet_credit_adds_balance_entry_and_outbox_event():
    user = UserFactory()
    entry = _credit(user, 10_000)
    wallet = _wallet(user)
    assert (wallet.balance_minor, wallet.held_minor) == (10_000, 0)
    assert (entry.kind, entry.amount_minor) == (Kind.GOODWILL, 10_000)
    event = OutboxEvent.objects.get(topic="wallet.credited")
    assert event.payload["balance"] == {"amount": 10_000, "currency": "USD"}


def test_wallet_credit_retried_with_same_key_posts_once():
    user = UserFactory()
    first = _credit(user, 2_500, key="refund-7")
    again = _credit(user, 2_500, key="refund-7")
    assert again.pk == first.pk
    assert _wallet(user).balance_minor == 2_500
    assert LedgerEntry.objects.count() == 1


def test_wallet_credit_same_key_other_amount_is_a_conflict_and_changes_nothing():
    user = UserFactory()
    _credit(user, 2_500, key="refund-7")
    with pytest.raises(WalletIdempotencyConflict):
        _credit(user, 9_999, key="refund-7")
    assert _wallet(user).balance_minor == 2_500


@pytest.mark.parametrize("amount", [0, -100])
def test_wallet_credit_non_positive_amount_is_refused(amount):
    user = UserFactory()
    with pytest.raises(WalletAmountInvalid) as exc:
        _credit(user, amount)
    assert exc.value.code == "wallet_amount_invalid"
    assert LedgerEntry.objects.count() == 0


def test_wallet_debit_more_than_balance_is_refused_and_changes_nothing():
    user = UserFactory()
    _credit(user, 1_000)
    with pytest.raises(InsufficientCredit) as exc:
        services.wallet_debit(
            user=user,
            currency="USD",
            amount_minor=1_001,
            kind=Kind.ADJUSTMENT,
            idempotency_key="adj-1",
        )
    assert exc.value.details["available"] == {"amount": 1_000, "currency": "USD"}
    assert _wallet(user).balance_minor == 1_000
    assert LedgerEntry.objects.count() == 1


def test_wallets_are_per_currency():
    user = UserFactory()
    _credit(user, 1_000, currency="USD")
    with pytest.raises(InsufficientCredit):
        services.wallet_hold(user=user, currency="EUR", amount_minor=1, reference="o1")
    assert _wallet(user, "EUR").balance_minor == 0


def test_wallet_hold_then_capture_spends_the_held_credit():
    user = UserFactory()
    _credit(user, 10_000)
    services.wallet_hold(user=user, currency="USD", amount_minor=3_000, reference="o1")
    wallet = _wallet(user)
    assert (wallet.balance_minor, wallet.held_minor) == (7_000, 3_000)

    services.wallet_capture(user=user, currency="USD", reference="o1")
    services.wallet_capture(user=user, currency="USD", reference="o1")
    wallet.refresh_from_db()
    assert (wallet.balance_minor, wallet.held_minor) == (7_000, 0)
    assert LedgerEntry.objects.filter(kind=Kind.ORDER_CAPTURE).count() == 1
    assert wallets_with_drift() == []


def test_wallet_hold_then_release_gives_credit_back_once():
    user = UserFactory()
    _credit(user, 10_000)
    services.wallet_hold(user=user, currency="USD", amount_minor=3_000, reference="o1")
    services.wallet_release(user=user, currency="USD", reference="o1")
    services.wallet_release(user=user, currency="USD", reference="o1")
    wallet = _wallet(user)
    assert (wallet.balance_minor, wallet.held_minor) == (10_000, 0)
    assert LedgerEntry.objects.filter(kind=Kind.ORDER_RELEASE).count() == 1


def test_wallet_capture_after_release_raises_and_release_after_capture_is_a_no_op():
    user = UserFactory()
    _credit(user, 10_000)
    services.wallet_hold(user=user, currency="USD", amount_minor=1_000, reference="a")
    services.wallet_release(user=user, currency="USD", reference="a")
    with pytest.raises(HoldNotFound):
        services.wallet_capture(user=user, currency="USD", reference="a")

    services.wallet_hold(user=user, currency="USD", amount_minor=1_000, reference="b")
    services.wallet_capture(user=user, currency="USD", reference="b")
    assert services.wallet_release(user=user, currency="USD", reference="b") is None
    wallet = _wallet(user)
    assert (wallet.balance_minor, wallet.held_minor) == (9_000, 0)


def test_wallets_reconcile_reports_drift_and_never_edits():
    user = UserFactory()
    _credit(user, 5_000)
    call_command("wallets_reconcile")  # no drift: no error

    Wallet.objects.filter(user=user).update(balance_minor=4_000)
    with pytest.raises(CommandError, match="1 wallet"):
        call_command("wallets_reconcile")
    [drift] = wallets_with_drift()
    assert (drift.balance_minor, drift.ledger_balance_minor) == (4_000, 5_000)
    assert _wallet(user).balance_minor == 4_000
