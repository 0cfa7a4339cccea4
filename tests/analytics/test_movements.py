"""Movements booked by discounts: the snapshot diff sees them like price changes."""

import datetime as dt

import pytest

from apps.analytics.models import MrrMovement
from apps.analytics.services.movements import movements_write
from apps.analytics.services.snapshots import snapshot_write
from tests.analytics.factories import at, coupon_redeemed, history
from tests.subscriptions.factories import PlanPriceFactory

pytestmark = pytest.mark.django_db

D = dt.date.fromisoformat


def _movements(first, last):
    day = D(first) - dt.timedelta(days=1)
    snapshot_write(day=day)
    while day < D(last):
        day += dt.timedelta(days=1)
        snapshot_write(day=day)
        movements_write(day=day)
    return sorted(
        MrrMovement.objects.values_list("day", "kind", "amount_minor", "user_id")
    )


@pytest.fixture
def pro():
    return PlanPriceFactory(amount_minor=3000)


def test_movements_write_repeating_discount_running_out_books_expansion(pro):
    sub = history([(at("2025-10-01"), "active", pro, None)])
    coupon_redeemed(
        sub, when=at("2025-11-05"), duration="repeating", months=2, value=5000
    )
    assert _movements("2026-01-04", "2026-01-06") == [
        (D("2026-01-05"), "expansion", 1500, sub.user_id)
    ]


def test_movements_write_new_discount_on_a_paying_subscription_books_contraction(
    pro,
):
    sub = history([(at("2025-10-01"), "active", pro, None)])
    coupon_redeemed(sub, when=at("2026-01-05", 15), kind="fixed_amount", value=500)
    assert _movements("2026-01-04", "2026-01-06") == [
        (D("2026-01-05"), "contraction", -500, sub.user_id)
    ]


def test_movements_write_discount_on_a_trial_moves_nothing_until_it_pays(pro):
    sub = history(
        [
            (at("2025-12-28"), "trialing", pro, None),
            (at("2026-01-05"), "active", pro, None),
        ]
    )
    coupon_redeemed(sub, when=at("2025-12-28"), value=2500)
    assert _movements("2026-01-04", "2026-01-06") == [
        (D("2026-01-05"), "new", 2250, sub.user_id)
    ]


def test_movements_write_once_coupon_moves_nothing(pro):
    sub = history([(at("2025-10-01"), "active", pro, None)])
    coupon_redeemed(sub, when=at("2026-01-05"), duration="once", value=5000)
    assert _movements("2026-01-04", "2026-01-06") == []
