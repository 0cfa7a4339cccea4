"""DELIVERY_STATES over every (from, to) pair of states."""

import itertools

import pytest

from apps.core.exceptions import InvalidTransition
from apps.webhooks.models import DELIVERY_STATES, DELIVERY_TRANSITIONS, Delivery
from apps.webhooks.services import endpoint_create

pytestmark = pytest.mark.django_db

STAMPS = {"succeeded": "succeeded_at", "dead": "dead_at"}


def test_machine_carries_the_table():
    assert DELIVERY_STATES.transitions is DELIVERY_TRANSITIONS
    assert dict(DELIVERY_STATES.stamps) == STAMPS
    assert set(DELIVERY_TRANSITIONS) == set(Delivery.Status.values)


@pytest.mark.parametrize(
    ("source", "target"),
    list(itertools.product(Delivery.Status.values, Delivery.Status.values)),
)
def test_delivery_every_pair(source, target, django_capture_on_commit_callbacks):
    endpoint, _ = endpoint_create(url="https://hooks.example.com/", event_types=["*"])
    delivery = Delivery.objects.create(
        endpoint=endpoint,
        event_id=1,
        event_type="order.paid",
        body="{}",
        status=source,
        window_started_at="2026-03-02T09:00:00Z",
    )
    before = Delivery.objects.values().get(pk=delivery.pk)

    if source == target:
        DELIVERY_STATES.move_by_pk(delivery.pk, target)
        assert Delivery.objects.values().get(pk=delivery.pk) == before
    elif target in DELIVERY_TRANSITIONS[source]:
        DELIVERY_STATES.move_by_pk(delivery.pk, target)
        delivery.refresh_from_db()
        assert delivery.status == target
        for state, stamp in STAMPS.items():
            assert (getattr(delivery, stamp) is not None) == (state == target)
    else:
        with pytest.raises(InvalidTransition) as exc:
            DELIVERY_STATES.move_by_pk(delivery.pk, target)
        assert exc.value.details == {"from": source, "to": target}
        assert Delivery.objects.values().get(pk=delivery.pk) == before
