"""Cart writes racing each other: double clicks, merges (PostgreSQL, real threads)."""

import threading
import time

import pytest
from django.db import connection, transaction

from apps.carts.models import Cart, CartLine
from apps.carts.services import cart_create, cart_merge
from tests.accounts.factories import UserFactory
from tests.carts.factories import CartFactory, CartLineFactory
from tests.parallel import run_in_parallel

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_cart_create_parallel_first_cart_of_user_all_get_the_same_cart():
    user = UserFactory()

    results, errors = run_in_parallel(
        [lambda: cart_create(user=user) for _ in range(8)]
    )

    assert errors == []
    assert len({cart.pk for cart, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert Cart.objects.filter(user=user, status="open").count() == 1


def test_cart_merge_same_guest_cart_twice_in_parallel_both_get_user_cart():
    user = UserFactory()
    target = CartFactory(user=user)
    guest = CartFactory()
    line = CartLineFactory(cart=guest, quantity=2)

    results, errors = run_in_parallel([lambda: cart_merge(source=guest, user=user)] * 2)

    assert errors == []
    assert {r.cart.pk for r in results} == {target.pk}
    assert not Cart.objects.filter(pk=guest.pk).exists()
    merged = CartLine.objects.get(cart=target)
    assert (merged.variant_id, merged.quantity) == (line.variant_id, 2)


def _waiting_lock_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def test_cart_merge_user_cart_opened_meanwhile_merges_into_it():
    user = UserFactory()
    guest = CartFactory()
    line = CartLineFactory(cart=guest, quantity=2)
    opened = threading.Event()

    def open_user_cart():
        with transaction.atomic():
            cart, _ = cart_create(user=user)
            opened.set()
            deadline = time.monotonic() + 10
            while _waiting_lock_count() == 0 and time.monotonic() < deadline:
                time.sleep(0.02)
        return cart

    def merge_guest_cart():
        assert opened.wait(timeout=10)
        return cart_merge(source=guest, user=user)

    results, errors = run_in_parallel([open_user_cart, merge_guest_cart])

    assert errors == []
    user_cart = next(r for r in results if isinstance(r, Cart))
    merged = next(r for r in results if not isinstance(r, Cart))
    assert merged.cart.pk == user_cart.pk
    assert not Cart.objects.filter(pk=guest.pk).exists()
    assert Cart.objects.filter(user=user, status="open").count() == 1
    kept = CartLine.objects.get(cart=user_cart)
    assert (kept.variant_id, kept.quantity) == (line.variant_id, 2)


@pytest.mark.parametrize("attempt", range(3))
def test_cart_merge_parallel_with_cart_create_never_errors(attempt):
    user = UserFactory()
    guest = CartFactory()
    CartLineFactory(cart=guest, quantity=1)

    _results, errors = run_in_parallel(
        [lambda: cart_create(user=user), lambda: cart_merge(source=guest, user=user)]
    )

    assert errors == []
    assert Cart.objects.filter(user=user, status="open").count() == 1
    assert CartLine.objects.filter(cart__user=user, cart__status="open").count() == 1
