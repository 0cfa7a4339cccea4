"""core.state: the one transition helper every machine uses."""

import pytest
from django.db import transaction
from django.db.models import F

from apps.carts.models import Cart
from apps.core.exceptions import InvalidTransition
from apps.core.state import StateMachine
from tests.carts.factories import CartFactory

pytestmark = pytest.mark.django_db

OPEN, CHECKED_OUT, ABANDONED = "open", "checked_out", "abandoned"
CARTS = StateMachine(
    model=Cart,
    field="status",
    transitions={OPEN: {CHECKED_OUT, ABANDONED}, ABANDONED: {OPEN}},
    name="cart",
    bump=("version",),
)


def test_move_allowed_saves_status_bumps_counter_and_writes_event():
    cart = CartFactory()
    seen = []
    with transaction.atomic():
        moved = CARTS.move(
            cart, ABANDONED, event=lambda row, a, b: seen.append((row.pk, a, b))
        )
    cart.refresh_from_db()
    assert moved is True
    assert (cart.status, cart.version) == (ABANDONED, 2)
    assert seen == [(cart.pk, OPEN, ABANDONED)]


def test_move_to_current_state_is_a_no_op_without_event_or_save():
    cart = CartFactory()
    seen = []
    assert CARTS.move(cart, OPEN, event=lambda *a: seen.append(a)) is False
    cart.refresh_from_db()
    assert (cart.status, cart.version, seen) == (OPEN, 1, [])


def test_move_illegal_raises_409_and_changes_nothing():
    cart = CartFactory(status=CHECKED_OUT)
    with pytest.raises(InvalidTransition) as exc:
        CARTS.move(cart, OPEN)
    assert exc.value.status_code == 409
    assert exc.value.details == {"from": CHECKED_OUT, "to": OPEN}
    cart.refresh_from_db()
    assert (cart.status, cart.version) == (CHECKED_OUT, 1)


def test_move_side_effects_run_only_after_commit(
    django_capture_on_commit_callbacks,
):
    cart = CartFactory()
    ran = []
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        CARTS.move_by_pk(cart.pk, CHECKED_OUT, on_commit=[lambda *a: ran.append(a)])
    assert ran == []
    for callback in callbacks:
        callback()
    assert ran == [(ran[0][0], OPEN, CHECKED_OUT)]


def test_move_many_moves_only_rows_the_table_allows():
    open_cart = CartFactory()
    done_cart = CartFactory(status=CHECKED_OUT)
    moved = CARTS.move_many(Cart.objects.all(), ABANDONED)
    open_cart.refresh_from_db()
    done_cart.refresh_from_db()
    assert moved == 1
    assert (open_cart.status, open_cart.version) == (ABANDONED, 2)
    assert done_cart.status == CHECKED_OUT


def test_move_many_unknown_state_raises():
    with pytest.raises(InvalidTransition):
        CARTS.move_many(Cart.objects.all(), "exploded")


CARTS_PLAIN = StateMachine(
    model=Cart,
    field="status",
    transitions={OPEN: {CHECKED_OUT, ABANDONED}, ABANDONED: {OPEN}},
    name="cart",
)


def test_move_many_through_ends_where_the_two_moves_would_in_one_update(
    django_assert_num_queries,
):
    abandoned = CartFactory(status=ABANDONED)
    open_cart = CartFactory()
    done = CartFactory(status=CHECKED_OUT)
    with django_assert_num_queries(1):
        moved = CARTS_PLAIN.move_many_through(Cart.objects.all(), OPEN, CHECKED_OUT)
    assert moved == 2
    assert {
        c.pk: c.status
        for c in Cart.objects.filter(pk__in=[abandoned.pk, open_cart.pk, done.pk])
    } == {abandoned.pk: CHECKED_OUT, open_cart.pk: CHECKED_OUT, done.pk: CHECKED_OUT}
    assert Cart.objects.get(pk=done.pk).updated_at == done.updated_at


def test_move_many_through_refuses_a_path_the_table_lacks_and_bumping_machines():
    with pytest.raises(InvalidTransition):
        CARTS_PLAIN.move_many_through(Cart.objects.all(), CHECKED_OUT, OPEN)
    with pytest.raises(ValueError, match="move twice"):
        CARTS.move_many_through(Cart.objects.all(), OPEN, CHECKED_OUT)


def test_move_many_loaded_rows_carry_the_update_without_a_read(
    django_assert_num_queries,
):
    open_cart = CartFactory()
    done_cart = CartFactory(status=CHECKED_OUT)
    with django_assert_num_queries(1):
        moved = CARTS.move_many(
            Cart.objects.filter(pk__in=[open_cart.pk, done_cart.pk]),
            ABANDONED,
            loaded=[open_cart, done_cart],
        )
    assert moved == 1
    assert (open_cart.status, open_cart.version) == (ABANDONED, 2)
    assert (done_cart.status, done_cart.version) == (CHECKED_OUT, 1)
    stored = Cart.objects.get(pk=open_cart.pk)
    assert (stored.status, stored.version, stored.updated_at) == (
        open_cart.status,
        open_cart.version,
        open_cart.updated_at,
    )


def test_move_many_loaded_rows_refuse_an_expression_before_writing():
    cart = CartFactory()
    with pytest.raises(ValueError, match="cannot mirror"):
        CARTS.move_many(
            Cart.objects.filter(pk=cart.pk),
            ABANDONED,
            loaded=[cart],
            expires_at=F("created_at"),
        )
    assert Cart.objects.get(pk=cart.pk).status == OPEN
