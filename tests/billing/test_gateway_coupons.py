"""apps/billing/gateway/coupons.py against localstripe (no mocks)."""

import uuid
from decimal import Decimal

import pytest

from apps.billing import gateway

pytestmark = [pytest.mark.localstripe, pytest.mark.django_db]


def _id() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def test_coupon_retrieve_unknown_returns_none(localstripe):
    assert gateway.coupon_retrieve(coupon_id=_id()) is None


def test_coupon_ensure_percent_creates_once(localstripe):
    coupon_id = _id()

    first = gateway.coupon_ensure(
        coupon_id=coupon_id, duration="once", percent_off=Decimal("12.50")
    )
    again = gateway.coupon_ensure(
        coupon_id=coupon_id, duration="once", percent_off=Decimal("12.50")
    )

    assert first == again
    assert (first.id, first.percent_off, first.amount_off_minor) == (
        coupon_id,
        Decimal("12.5"),
        None,
    )
    assert first.duration == "once"


def test_coupon_ensure_amount_repeating_snapshot(localstripe):
    snap = gateway.coupon_ensure(
        coupon_id=_id(),
        duration="repeating",
        duration_in_months=3,
        amount_off_minor=500,
        currency="USD",
        name="SAVE5",
    )

    assert (snap.amount_off_minor, snap.currency) == (500, "USD")
    assert (snap.duration, snap.duration_in_months) == ("repeating", 3)
    assert gateway.coupon_retrieve(coupon_id=snap.id) == snap


def test_coupon_create_needs_exactly_one_of_percent_and_amount(localstripe):
    with pytest.raises(ValueError, match="exactly one"):
        gateway.coupon_create(coupon_id=_id(), duration="once")
