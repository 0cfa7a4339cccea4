"""Double-clicks on cart writes (PostgreSQL, real threads)."""

import pytest

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
