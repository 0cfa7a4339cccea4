"""Store credit under real parallel transactions (PostgreSQL)."""

import pytest
from django.db.models import Sum

from apps.wallets import services
from apps.wallets.exceptions import InsufficientCredit
from apps.wallets.models import LedgerEntry, Wallet
from apps.wallets.selectors import wallets_with_drift
from tests.accounts.factories import UserFactory
from tests.parallel import run_in_parallel

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_wallet_hold_twenty_parallel_spends_of_ten_from_a_hundred_ten_succeed():
    user = UserFactory()
    services.wallet_credit(
        user=user,
        currency="USD",
        amount_minor=10_000,
        kind=LedgerEntry.Kind.GIFT_CARD_REDEEM,
        idempotency_key="card",
    )

    def spend(n):
        return lambda: services.wallet_hold(
            user=user, currency="USD", amount_minor=1_000, reference=f"order-{n}"
        )

    results, errors = run_in_parallel([spend(n) for n in range(20)])

    assert len(results) == 10
    assert len(errors) == 10
    assert all(isinstance(e, InsufficientCredit) for e in errors)
    wallet = Wallet.objects.get(user=user)
    assert (wallet.balance_minor, wallet.held_minor) == (0, 10_000)
    sums = wallet.entries.aggregate(
        balance=Sum("amount_minor"), held=Sum("held_delta_minor")
    )
    assert sums == {"balance": 0, "held": 10_000}
    assert wallets_with_drift() == []


def test_wallet_credit_same_key_in_parallel_posts_once():
    user = UserFactory()

    def credit():
        return services.wallet_credit(
            user=user,
            currency="USD",
            amount_minor=500,
            kind=LedgerEntry.Kind.REFUND_CREDIT,
            idempotency_key="refund-1",
        )

    results, errors = run_in_parallel([credit] * 8)

    assert errors == []
    assert len({entry.pk for entry in results}) == 1
    assert Wallet.objects.get(user=user).balance_minor == 500
