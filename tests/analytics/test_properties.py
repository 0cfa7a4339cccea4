"""For random subscription histories, MRR moves only through movements."""

import datetime as dt
from collections import defaultdict

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.analytics.models import DailySubscriptionSnapshot, MrrMovement
from apps.analytics.mrr import Discount, discount_in_force, mrr_minor
from apps.analytics.services.movements import movements_write
from apps.analytics.services.snapshots import snapshot_carry_forward, snapshot_write
from tests.accounts.factories import UserFactory
from tests.analytics.factories import coupon_redeemed, history
from tests.subscriptions.factories import PlanPriceFactory

pytestmark = pytest.mark.django_db

START = dt.date(2026, 3, 1)
DAYS = 5
PRICES = [
    (1000, "month", 1, "USD"),
    (3000, "month", 1, "USD"),
    (10002, "year", 1, "USD"),
    (250, "week", 2, "USD"),
    (99, "day", 1, "EUR"),
    (0, "month", 1, "USD"),
]
STATUSES = ["trialing", "active", "past_due", "unpaid", "paused", "canceled"]

step = st.tuples(
    st.integers(-1, DAYS - 1),  # day offset from START (−1: before the range)
    st.integers(0, 23),
    st.sampled_from(STATUSES),
    st.integers(0, len(PRICES) - 1),
)
# Redemption days from START: a month before the range (1-month repeating
# coupons run out inside it, Jan 29–31 clamped to Feb 28) or inside it.
REDEEMED_OFFSETS = [-31, -30, -29, -28, -27, -26, -25, -1, 0, 1, 2, 3, 4]
coupon = st.tuples(
    st.sampled_from(REDEEMED_OFFSETS),
    st.integers(0, 23),
    st.sampled_from(["once", "repeating", "forever"]),
    st.sampled_from(
        [
            ("percentage", 2500),
            ("percentage", 3333),
            ("fixed_amount", 300),
            ("fixed_amount", 5000),
        ]
    ),
    st.integers(1, 2),
)
customer = st.tuples(
    st.integers(0, len(PRICES) - 1).filter(lambda i: PRICES[i][3] == "USD")
    | st.just(4),
    st.lists(step, min_size=1, max_size=5),
    st.lists(coupon, max_size=2),
)


def _coupons_redeem(sub, raw_coupons):
    """Redeem the drawn coupons; return them as (when, duration, kind, value, N)."""
    redeemed = []
    for offset, hour, duration, (kind, value), months in raw_coupons:
        when = dt.datetime.combine(
            START + dt.timedelta(days=offset), dt.time(hour), dt.UTC
        )
        months = months if duration == "repeating" else None
        coupon_redeemed(
            sub, when=when, duration=duration, months=months, kind=kind, value=value
        )
        redeemed.append((when, duration, kind, value, months))
    return redeemed


def _expected_mrr(steps, redeemed, day):
    """Python's MRR for one customer at the end of ``day`` (None: no row yet)."""
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, dt.UTC)
    current = None
    for when, status, price, _ in steps:
        if when < end:
            current = (status, price)
    if current is None or current[0] not in ("active", "past_due"):
        return 0
    price = current[1]
    # The latest redemption before the day's end replaces the ones before it
    # (a tie in time goes to the one written last, as in SQL).
    latest = None
    for when, duration, kind, value, months in redeemed:
        if when < end and (latest is None or when >= latest[0]):
            latest = (when, duration, kind, value, months)
    discounts = ()
    if latest is not None:
        when, duration, kind, value, months = latest
        discounts = (
            Discount(
                duration,
                percent_off_bp=value if kind == "percentage" else 0,
                amount_off_minor=value if kind == "fixed_amount" else 0,
                in_force=discount_in_force(
                    duration=duration,
                    redeemed_at=when,
                    duration_in_months=months,
                    day=day,
                ),
            ),
        )
    return mrr_minor(
        amount_minor=price.amount_minor,
        interval=price.interval,
        interval_count=price.interval_count,
        discounts=discounts,
    )


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(customers=st.lists(customer, min_size=1, max_size=4))
def test_mrr_change_equals_sum_of_movements_every_day(customers):
    with transaction.atomic():
        prices = [
            PlanPriceFactory(amount_minor=a, interval=i, interval_count=c, currency=cur)
            for a, i, c, cur in PRICES
        ]
        expected_by_user = []
        for first_price, raw, raw_coupons in customers:
            # A customer is billed in one currency for good: keep its prices.
            currency = PRICES[first_price][3]
            usable = [p for p in prices if p.currency == currency]
            steps = []
            for offset, hour, status, index in raw:
                day = START + dt.timedelta(days=offset)
                when = dt.datetime.combine(day, dt.time(hour), dt.UTC)
                steps.append((when, status, usable[index % len(usable)], None))
            steps.sort(key=lambda s: s[0])
            user = UserFactory()
            sub = history(steps, user=user)
            redeemed = _coupons_redeem(sub, raw_coupons)
            expected_by_user.append((user.pk, currency, steps, redeemed))

        # The two writers the property is about (range_compute adds metrics
        # and cohorts, which read these rows): the day before, then each day.
        snapshot_write(day=START - dt.timedelta(days=1))
        for offset in range(DAYS):
            snapshot_write(day=START + dt.timedelta(days=offset))
            movements_write(day=START + dt.timedelta(days=offset))

        mrr = defaultdict(int)
        for row in DailySubscriptionSnapshot.objects.values("day", "currency").annotate(
            total=Sum("mrr_minor")
        ):
            mrr[(row["day"], row["currency"])] = row["total"]
        moved = defaultdict(int)
        for row in MrrMovement.objects.values("day", "currency").annotate(
            total=Sum("amount_minor")
        ):
            moved[(row["day"], row["currency"])] = row["total"]
        for offset in range(DAYS):
            day = START + dt.timedelta(days=offset)
            for currency in ("USD", "EUR"):
                before = mrr[(day - dt.timedelta(days=1), currency)]
                assert mrr[(day, currency)] - before == moved[(day, currency)]
            # And each customer's MRR is what Python computes from the steps.
            got = defaultdict(int)
            for user_id, value in DailySubscriptionSnapshot.objects.filter(
                day=day
            ).values_list("user_id", "mrr_minor"):
                got[user_id] += value
            for user_id, _currency, steps, redeemed in expected_by_user:
                expected = _expected_mrr(steps, redeemed, day)
                assert got[user_id] == expected, (user_id, day)
        transaction.set_rollback(True)


SNAPSHOT_COLUMNS = (
    "subscription_id",
    "user_id",
    "price_id",
    "plan_id",
    "currency",
    "status",
    "cancel_at_period_end",
    "mrr_minor",
)


def _snapshot(day):
    return set(
        DailySubscriptionSnapshot.objects.filter(day=day).values_list(*SNAPSHOT_COLUMNS)
    )


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    customers=st.lists(customer, min_size=1, max_size=5),
    cancels=st.lists(st.booleans(), min_size=5, max_size=5),
)
def test_carried_forward_snapshot_equals_the_full_rebuild_every_day(customers, cancels):
    """The backfill's shortcut (copy yesterday's rows, recompute the changed
    subscriptions) must give exactly the rows of a full rebuild, with coupons
    redeemed during the range and repeating ones running out inside it."""
    with transaction.atomic():
        prices = [
            PlanPriceFactory(amount_minor=a, interval=i, interval_count=c, currency=cur)
            for a, i, c, cur in PRICES
        ]
        for n, (first_price, raw, raw_coupons) in enumerate(customers):
            currency = PRICES[first_price][3]
            usable = [p for p in prices if p.currency == currency]
            steps = [
                (
                    dt.datetime.combine(
                        START + dt.timedelta(days=offset), dt.time(hour), dt.UTC
                    ),
                    status,
                    usable[index % len(usable)],
                    {"cancel_at_period_end": cancels[(n + offset) % 5]},
                )
                for offset, hour, status, index in raw
            ]
            # By time only: steps at one time keep their drawn order (comparing
            # the next fields would compare PlanPrice rows and raise).
            steps.sort(key=lambda s: s[0])
            _coupons_redeem(history(steps), raw_coupons)
        days = [START + dt.timedelta(days=k) for k in range(-1, DAYS)]
        full = {}
        for day in days:
            snapshot_write(day=day)
            full[day] = _snapshot(day)
        DailySubscriptionSnapshot.objects.filter(day__gte=START).delete()
        for day in days[1:]:
            snapshot_carry_forward(day=day)
            assert _snapshot(day) == full[day], day
        transaction.set_rollback(True)
