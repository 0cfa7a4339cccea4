"""LICENCE_STATES and SUBSCRIBE_FLOW_STATES over every (from, to) pair."""

import itertools

import pytest

from apps.core.exceptions import InvalidTransition
from apps.core.models import AuditLog
from apps.subscriptions.licence_models import (
    LICENCE_TRANSITIONS,
    SUBSCRIBE_FLOW_STATES,
    SUBSCRIBE_FLOW_TRANSITIONS,
    LicenceKey,
    SubscribeFlow,
)
from apps.subscriptions.services.licences import _move
from tests.subscriptions.factories import PlanPriceFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("source", "target"),
    list(itertools.product(LicenceKey.Status.values, LicenceKey.Status.values)),
)
def test_licence_every_pair(source, target):
    sub = SubscriptionFactory()
    licence = LicenceKey.objects.create(
        user=sub.user, subscription=sub, key_hash="x" * 64, status=source
    )

    if source == target:
        assert _move(licence, target, reason="test") is False
        assert not AuditLog.objects.filter(object_id=str(licence.pk)).exists()
    elif target in LICENCE_TRANSITIONS[source]:
        assert _move(licence, target, reason="test") is True
        licence.refresh_from_db()
        assert licence.status == target
        audit = AuditLog.objects.get(object_id=str(licence.pk))
        assert audit.action == f"licence.{target}"
        assert audit.data == {"from": source, "to": target, "reason": "test"}
    else:
        with pytest.raises(InvalidTransition):
            _move(licence, target, reason="test")
        licence.refresh_from_db()
        assert licence.status == source


@pytest.mark.parametrize(
    ("source", "target"),
    list(itertools.product(SubscribeFlow.Status.values, SubscribeFlow.Status.values)),
)
def test_subscribe_flow_every_pair(source, target):
    flow = SubscribeFlow.objects.create(
        email="a@example.com", price=PlanPriceFactory(), status=source
    )

    if source == target:
        assert SUBSCRIBE_FLOW_STATES.move_by_pk(flow.pk, target).status == source
    elif target in SUBSCRIBE_FLOW_TRANSITIONS[source]:
        moved = SUBSCRIBE_FLOW_STATES.move_by_pk(flow.pk, target)
        assert moved.status == target
        if target in ("completed", "failed"):
            assert getattr(moved, f"{target}_at") is not None
    else:
        with pytest.raises(InvalidTransition):
            SUBSCRIBE_FLOW_STATES.move_by_pk(flow.pk, target)
        flow.refresh_from_db()
        assert flow.status == source
