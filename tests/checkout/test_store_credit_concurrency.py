"""Store credit spent by parallel checkouts (PostgreSQL, real threads)."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Sum

from apps.checkout import services
from apps.checkout.models import Checkout, Order
from apps.inventory.models import Reservation
from apps.wallets import services as wallet_services
from apps.wallets.exceptions import InsufficientCredit
from apps.wallets.models import LedgerEntry, Wallet
from tests.accounts.factories import UserFactory
from tests.checkout.conftest import ADDRESS
from tests.inventory.factories import VariantFactory
from tests.parallel import run_in_parallel

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.localstripe,
    pytest.mark.django_db(transaction=True),
]


def _checkout_spending(cart, user, method, credit_minor: int) -> Checkout:
    checkout, _ = services.checkout_start(cart=cart, user=user)
    checkout = services.checkout_set_email(checkout=checkout, email=user.email)
    checkout = services.checkout_set_shipping_address(
        checkout=checkout, address=ADDRESS
    )
    checkout = services.checkout_set_shipping_method(
        checkout=checkout, method_id=method.pk
    )
    return services.checkout_set_credit(checkout=checkout, amount_minor=credit_minor)


def test_twenty_checkouts_spending_ten_of_a_hundred_credit_ten_are_paid(
    make_cart, shipping_method, localstripe
):
    user = UserFactory()
    wallet_services.wallet_credit(
        user=user,
        currency="USD",
        amount_minor=10_000,
        kind=LedgerEntry.Kind.GIFT_CARD_REDEEM,
        idempotency_key="gift",
    )
    variant = VariantFactory(stock=50, weight_grams=100, price_minor=500)
    # 5.00 + 5.00 shipping: each order is paid by 10.00 of credit at once.
    # A user has one open cart: these are guest carts the user checks out.
    checkouts = [
        _checkout_spending(
            make_cart(lines=((variant, 1),)), user, shipping_method, 1_000
        )
        for _ in range(20)
    ]

    def pay(checkout):
        return lambda: services.checkout_payment_start(checkout=checkout)

    results, errors = run_in_parallel([pay(c) for c in checkouts])

    assert len(results) == 10, errors
    assert len(errors) == 10
    assert all(isinstance(e, InsufficientCredit) for e in errors), errors
    assert all(s.status == "succeeded" and s.amount_minor == 0 for s in results)
    paid = Order.objects.filter(status="paid")
    assert paid.count() == 10
    assert set(paid.values_list("credit_minor", flat=True)) == {1_000}
    # The losers rolled back whole: no order, no stock hold left behind.
    assert Order.objects.count() == 10
    assert not Reservation.objects.filter(status="active").exists()
    wallet = Wallet.objects.get(user=user)
    assert (wallet.balance_minor, wallet.held_minor) == (0, 0)
    sums = wallet.entries.aggregate(
        balance=Sum("amount_minor"), held=Sum("held_delta_minor")
    )
    assert sums == {"balance": 0, "held": 0}
    captures = wallet.entries.filter(kind=LedgerEntry.Kind.ORDER_CAPTURE)
    assert captures.aggregate(spent=Sum("held_delta_minor"))["spent"] == -10_000
    out = StringIO()
    call_command("wallets_reconcile", stdout=out)
    assert "0 drift" in out.getvalue()
