"""Staff adjust wallets with a reason, an audit row and a confirm above a limit."""

import pytest
from django.urls import reverse

from apps.core.models import AuditLog
from apps.wallets import services
from apps.wallets.models import LedgerEntry, Wallet
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser(
        email="admin@example.com", password="x"
    )
    client.force_login(admin)
    return client


@pytest.fixture
def wallet():
    user = UserFactory()
    services.wallet_credit(
        user=user,
        currency="USD",
        amount_minor=1_000,
        kind=LedgerEntry.Kind.GOODWILL,
        idempotency_key="seed",
    )
    return Wallet.objects.get(user=user)


def _adjust(staff_client, wallet, **data):
    url = reverse("admin:wallets_wallet_adjust", args=[wallet.pk])
    return staff_client.post(url, {"form_token": "t1", **data})


def test_wallet_adjust_credit_writes_entry_audit_row_and_shows_money(
    staff_client, wallet
):
    response = _adjust(
        staff_client, wallet, direction="credit", amount="12.50", reason="Goodwill"
    )
    assert response.status_code == 302
    wallet.refresh_from_db()
    assert wallet.balance_minor == 2_250
    entry = wallet.entries.get(kind="adjustment")
    assert (entry.amount_minor, entry.memo) == (1_250, "Goodwill")
    assert entry.actor.email == "admin@example.com"
    assert AuditLog.objects.filter(action="wallet.adjusted").count() == 1
    page = staff_client.get(reverse("admin:wallets_wallet_change", args=[wallet.pk]))
    assert "$22.50" in page.content.decode()


def test_wallet_adjust_double_submit_posts_once(staff_client, wallet):
    for _ in range(2):
        _adjust(staff_client, wallet, direction="credit", amount="1", reason="x")
    wallet.refresh_from_db()
    assert wallet.balance_minor == 1_100


def test_wallet_adjust_above_limit_needs_confirmation(staff_client, wallet, settings):
    settings.WALLET_ADJUSTMENT_CONFIRM_ABOVE_MINOR = 5_000
    response = _adjust(
        staff_client, wallet, direction="credit", amount="60.00", reason="Big"
    )
    assert response.status_code == 200
    assert "need confirming" in response.content.decode()
    wallet.refresh_from_db()
    assert wallet.balance_minor == 1_000

    _adjust(
        staff_client,
        wallet,
        direction="credit",
        amount="60.00",
        reason="Big",
        confirm="on",
    )
    wallet.refresh_from_db()
    assert wallet.balance_minor == 7_000


def test_wallet_adjust_debit_beyond_balance_is_a_form_error(staff_client, wallet):
    response = _adjust(
        staff_client, wallet, direction="debit", amount="10.01", reason="Oops"
    )
    assert response.status_code == 200
    assert "not enough store credit" in response.content.decode()
    wallet.refresh_from_db()
    assert wallet.balance_minor == 1_000


def test_ledger_entries_cannot_be_changed_or_deleted_in_admin(staff_client, wallet):
    entry = wallet.entries.get()
    url = reverse("admin:wallets_ledgerentry_delete", args=[entry.pk])
    assert staff_client.post(url, {"post": "yes"}).status_code == 403
    assert LedgerEntry.objects.filter(pk=entry.pk).exists()
    changelist = staff_client.get(reverse("admin:wallets_wallet_changelist"))
    assert changelist.status_code == 200
