"""ORDER_STATES and CHECKOUT_STATES over every (from, to) pair of states."""

import itertools

import pytest

from apps.checkout import services
from apps.checkout.models import (
    CHECKOUT_STATES,
    CHECKOUT_TRANSITIONS,
    ORDER_STATES,
    ORDER_TRANSITIONS,
    Checkout,
    Order,
    OrderEvent,
)
from apps.core.exceptions import InvalidTransition
from tests.carts.factories import CartFactory

pytestmark = pytest.mark.django_db

STAMPS = {"paid": "paid_at", "fulfilled": "fulfilled_at", "cancelled": "cancelled_at"}


def test_machines_carry_the_tables():
    assert CHECKOUT_STATES.transitions is CHECKOUT_TRANSITIONS
    assert ORDER_STATES.transitions is ORDER_TRANSITIONS
    assert dict(ORDER_STATES.stamps) == STAMPS


@pytest.mark.parametrize(
    ("source", "target"),
    list(itertools.product(Order.Status.values, Order.Status.values)),
)
def test_order_every_pair(source, target):
    order = Order.objects.create(
        number=f"T-{source[:4]}-{target[:4]}",
        email="a@example.com",
        currency="USD",
        status=source,
    )
    before = Order.objects.values().get(pk=order.pk)

    if source == target:
        services.order_transition(order_id=order.pk, to=target, source="test")
        assert Order.objects.values().get(pk=order.pk) == before
        assert not OrderEvent.objects.filter(order=order).exists()
    elif target in ORDER_TRANSITIONS[source]:
        services.order_transition(
            order_id=order.pk, to=target, source="test", message="why"
        )
        order.refresh_from_db()
        assert order.status == target
        event = OrderEvent.objects.get(order=order)
        assert (event.kind, event.source, event.message) == ("status", "test", "why")
        assert (event.from_status, event.to_status) == (source, target)
        for state, stamp in STAMPS.items():
            assert (getattr(order, stamp) is not None) == (state == target)
    else:
        with pytest.raises(InvalidTransition) as exc:
            services.order_transition(order_id=order.pk, to=target)
        assert exc.value.status_code == 409
        assert exc.value.code == "invalid_state_transition"
        assert exc.value.details == {"from": source, "to": target}
        assert Order.objects.values().get(pk=order.pk) == before
        assert not OrderEvent.objects.filter(order=order).exists()


@pytest.mark.parametrize(
    ("source", "target"),
    list(itertools.product(Checkout.State.values, Checkout.State.values)),
)
def test_checkout_every_pair(source, target):
    checkout = Checkout.objects.create(cart=CartFactory(), state=source)
    before = Checkout.objects.values().get(pk=checkout.pk)

    if source == target:
        services.checkout_transition(checkout_id=checkout.pk, to=target)
        assert Checkout.objects.values().get(pk=checkout.pk) == before
    elif target in CHECKOUT_TRANSITIONS[source]:
        services.checkout_transition(checkout_id=checkout.pk, to=target)
        checkout.refresh_from_db()
        assert checkout.state == target
        assert checkout.updated_at > before["updated_at"]
    else:
        with pytest.raises(InvalidTransition) as exc:
            services.checkout_transition(checkout_id=checkout.pk, to=target)
        assert exc.value.status_code == 409
        assert exc.value.code == "invalid_state_transition"
        assert Checkout.objects.values().get(pk=checkout.pk) == before
