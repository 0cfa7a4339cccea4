"""Double-clicks on cart writes (PostgreSQL, real threads)."""

import threading

import pytest
from django.db import connection

from apps.carts.models import Cart, CartLine
from apps.carts.services import cart_create, cart_merge
from tests.accounts.factories import UserFactory
from tests.carts.factories import CartFactory, CartLineFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _parallel(jobs):
    barrier = threading.Barrier(len(jobs))
    results, errors = [], []
    lock = threading.Lock()

    def worker(job):
        try:
            barrier.wait(timeout=30)
            outcome = job()
            with lock:
                results.append(outcome)
        except BaseException as exc:
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    return results, errors


def test_cart_create_parallel_first_cart_of_user_all_get_the_same_cart():
    user = UserFactory()

    results, errors = _parallel([lambda: cart_create(user=user) for _ in range(8)])

    assert errors == []
    assert len({cart.pk for cart, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert Cart.objects.filter(user=user, status="open").count() == 1


def test_cart_merge_same_guest_cart_twice_in_parallel_both_get_user_cart():
    user = UserFactory()
    target = CartFactory(user=user)
    guest = CartFactory()
    line = CartLineFactory(cart=guest, quantity=2)

    results, errors = _parallel([lambda: cart_merge(source=guest, user=user)] * 2)

    assert errors == []
    assert {r.cart.pk for r in results} == {target.pk}
    assert not Cart.objects.filter(pk=guest.pk).exists()
    merged = CartLine.objects.get(cart=target)
    assert (merged.variant_id, merged.quantity) == (line.variant_id, 2)
