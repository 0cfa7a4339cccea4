"""Snapshot MRR of discounted subscriptions, full rebuild and carry-forward."""

import datetime as dt

import pytest

from apps.analytics.models import DailySubscriptionSnapshot
from apps.analytics.services.snapshots import snapshot_carry_forward, snapshot_write
from tests.analytics.factories import at, coupon_redeemed, history
from tests.subscriptions.factories import PlanPriceFactory

pytestmark = pytest.mark.django_db

D = dt.date.fromisoformat


def _mrr(sub, day):
    snapshot_write(day=D(day))
    return DailySubscriptionSnapshot.objects.get(day=D(day), subscription=sub).mrr_minor


@pytest.fixture
def basic():
    return PlanPriceFactory(amount_minor=1000)


def test_snapshot_write_forever_percentage_coupon_takes_its_share(basic):
    sub = history([(at("2025-12-20"), "active", basic, None)])
    coupon_redeemed(sub, when=at("2025-12-20"), value=2500)
    assert _mrr(sub, "2026-01-01") == 750


def test_snapshot_write_fixed_amount_is_normalised_like_the_price():
    annual = PlanPriceFactory(amount_minor=12000, interval="year")
    sub = history([(at("2025-12-20"), "active", annual, None)])
    coupon_redeemed(sub, when=at("2025-12-20"), kind="fixed_amount", value=1200)
    # (12000 − 1200) ÷ 12 = 900
    assert _mrr(sub, "2026-01-01") == 900


def test_snapshot_write_rounds_once_after_the_discount():
    quarter = PlanPriceFactory(amount_minor=2000, interval_count=3)
    sub = history([(at("2025-12-20"), "active", quarter, None)])
    coupon_redeemed(sub, when=at("2025-12-20"), value=5000)
    # 2000 ÷ 3 × 0.5 = 333.33 → 333; rounding 666.67 to 667 first gives 334.
    assert _mrr(sub, "2026-01-01") == 333


def test_snapshot_write_fixed_amount_above_the_price_gives_zero(basic):
    sub = history([(at("2025-12-20"), "active", basic, None)])
    coupon_redeemed(sub, when=at("2025-12-20"), kind="fixed_amount", value=1500)
    assert _mrr(sub, "2026-01-01") == 0


def test_snapshot_write_once_coupon_is_ignored(basic):
    sub = history([(at("2025-12-20"), "active", basic, None)])
    coupon_redeemed(sub, when=at("2025-12-20"), duration="once", value=5000)
    assert _mrr(sub, "2026-01-01") == 1000


def test_snapshot_write_counts_a_coupon_from_the_day_it_is_redeemed(basic):
    sub = history([(at("2025-12-20"), "active", basic, None)])
    coupon_redeemed(sub, when=at("2026-01-02", 23), value=2500)
    coupon_redeemed(sub, when=at("2026-01-04", 0), value=5000)
    assert [_mrr(sub, day) for day in ("2026-01-01", "2026-01-02")] == [1000, 750]
    # The second coupon replaces the first from midnight Jan 4 on.
    assert [_mrr(sub, day) for day in ("2026-01-03", "2026-01-04")] == [750, 500]


def test_snapshot_write_a_once_coupon_replaces_a_forever_discount(basic):
    sub = history([(at("2025-12-20"), "active", basic, None)])
    coupon_redeemed(sub, when=at("2025-12-20"), value=2500)
    coupon_redeemed(sub, when=at("2026-01-02"), duration="once", value=5000)
    assert [_mrr(sub, day) for day in ("2026-01-01", "2026-01-02")] == [750, 1000]


def test_snapshot_write_ignores_an_order_redemption(basic):
    sub = history([(at("2025-12-20"), "active", basic, None)])
    redemption = coupon_redeemed(sub, when=at("2025-12-20"), value=2500)
    type(redemption).objects.filter(pk=redemption.pk).update(target="order")
    assert _mrr(sub, "2026-01-01") == 1000


@pytest.mark.parametrize(
    ("redeemed_at", "months", "last_discounted", "first_full"),
    [
        (at("2025-11-05"), 2, "2026-01-04", "2026-01-05"),
        (at("2025-11-30", 23), 3, "2026-02-27", "2026-02-28"),  # clamped
        (at("2025-12-31", 0), 2, "2026-02-27", "2026-02-28"),
        (at("2026-01-31"), 1, "2026-02-27", "2026-02-28"),
        (at("2025-12-28"), 2, "2026-02-27", "2026-02-28"),
        (at("2025-12-29"), 2, "2026-02-27", "2026-02-28"),
        (at("2025-11-15"), 14, "2027-01-14", "2027-01-15"),
    ],
)
def test_snapshot_write_repeating_coupon_runs_out_n_months_on(
    basic, redeemed_at, months, last_discounted, first_full
):
    sub = history([(at("2025-10-01"), "active", basic, None)])
    coupon_redeemed(sub, when=redeemed_at, duration="repeating", months=months)
    assert _mrr(sub, last_discounted) == 750
    assert _mrr(sub, first_full) == 1000


def test_snapshot_write_trial_with_a_coupon_counts_zero(basic):
    sub = history([(at("2025-12-20"), "trialing", basic, None)])
    coupon_redeemed(sub, when=at("2025-12-20"), value=2500)
    assert _mrr(sub, "2026-01-01") == 0


def _rows(day):
    return set(
        DailySubscriptionSnapshot.objects.filter(day=day).values_list(
            "subscription_id", "status", "price_id", "mrr_minor"
        )
    )


def test_snapshot_carry_forward_recomputes_discounts_that_start_or_run_out(basic):
    """Neither subscription has an event in the range: only its coupon moves."""
    starts = history([(at("2025-12-20"), "active", basic, None)])
    coupon_redeemed(starts, when=at("2026-01-03", 8), value=2500)
    runs_out = history([(at("2025-10-01"), "active", basic, None)])
    coupon_redeemed(
        runs_out, when=at("2025-11-04", 7), duration="repeating", months=2, value=5000
    )
    clamped = history([(at("2025-10-01"), "active", basic, None)])
    coupon_redeemed(
        clamped, when=at("2025-11-30"), duration="repeating", months=1, value=1000
    )
    days = [D("2025-12-29") + dt.timedelta(days=n) for n in range(9)]
    full = {}
    for day in days:
        snapshot_write(day=day)
        full[day] = _rows(day)
    DailySubscriptionSnapshot.objects.filter(day__gt=days[0]).delete()
    for day in days[1:]:
        snapshot_carry_forward(day=day)
        assert _rows(day) == full[day], day
    mrr = {
        (day.isoformat(), sub): value
        for day, sub, value in DailySubscriptionSnapshot.objects.values_list(
            "day", "subscription_id", "mrr_minor"
        )
    }
    assert mrr[("2026-01-02", starts.pk)] == 1000
    assert mrr[("2026-01-03", starts.pk)] == 750
    assert mrr[("2026-01-03", runs_out.pk)] == 500
    assert mrr[("2026-01-04", runs_out.pk)] == 1000
    assert mrr[("2025-12-29", clamped.pk)] == 900
    assert mrr[("2025-12-30", clamped.pk)] == 1000


def test_snapshot_carry_forward_sees_month_end_coupons_run_out_together(basic):
    """Coupons of Jan 28 to 31 + 1 month all run out on Feb 28, 2026."""
    subs = []
    for redeemed in ("2026-01-28", "2026-01-29", "2026-01-30", "2026-01-31"):
        sub = history([(at("2025-12-01"), "active", basic, None)])
        coupon_redeemed(sub, when=at(redeemed, 23), duration="repeating", months=1)
        subs.append(sub)
    days = [D("2026-02-25") + dt.timedelta(days=n) for n in range(6)]
    full = {}
    for day in days:
        snapshot_write(day=day)
        full[day] = _rows(day)
    DailySubscriptionSnapshot.objects.filter(day__gt=days[0]).delete()
    for day in days[1:]:
        snapshot_carry_forward(day=day)
        assert _rows(day) == full[day], day
    by_day = {
        day: sorted(
            DailySubscriptionSnapshot.objects.filter(day=day).values_list(
                "mrr_minor", flat=True
            )
        )
        for day in (D("2026-02-27"), D("2026-02-28"))
    }
    assert by_day == {D("2026-02-27"): [750] * 4, D("2026-02-28"): [1000] * 4}


def test_deleting_a_subscription_still_deletes_its_snapshot_rows(basic):
    """The snapshot's foreign keys have no database constraint (the backfill
    inserts ~14 M rows a year at the benchmark size); Django's CASCADE still
    removes the rows."""
    sub = history([(at("2025-12-20"), "active", basic, None)])
    other = history([(at("2025-12-20"), "active", basic, None)])
    snapshot_write(day=D("2026-01-01"))
    assert DailySubscriptionSnapshot.objects.filter(subscription=sub).exists()
    sub.events.all().delete()  # they protect the subscription
    sub.delete()
    assert list(
        DailySubscriptionSnapshot.objects.values_list("subscription_id", flat=True)
    ) == [other.pk]
