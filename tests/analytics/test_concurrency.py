"""Overlapping nightly runs under real threads (PostgreSQL advisory locks)."""

import datetime as dt

import pytest

from apps.analytics.models import (
    CohortMonth,
    DailyMetrics,
    DailySubscriptionSnapshot,
    MrrMovement,
)
from apps.analytics.services.cohorts import cohorts_write
from apps.analytics.services.jobs import day_compute, range_compute
from tests.analytics.factories import at, history
from tests.parallel import run_in_parallel
from tests.subscriptions.factories import PlanPriceFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

D = dt.date.fromisoformat


def _rows():
    return (
        sorted(
            DailySubscriptionSnapshot.objects.values_list(
                "day", "subscription_id", "mrr_minor"
            )
        ),
        sorted(
            MrrMovement.objects.values_list("day", "user_id", "kind", "amount_minor")
        ),
        sorted(
            DailyMetrics.objects.values_list(
                "day", "currency", "mrr_minor", "net_new_minor"
            )
        ),
    )


def test_two_overlapping_runs_and_a_rerun_change_nothing():
    basic = PlanPriceFactory(amount_minor=1000)
    pro = PlanPriceFactory(amount_minor=3000)
    history([(at("2026-01-02"), "active", basic, None)])
    history(
        [
            (at("2026-01-01"), "active", basic, None),
            (at("2026-01-03"), "active", pro, None),
        ]
    )
    history(
        [
            (at("2026-01-01"), "active", pro, None),
            (at("2026-01-04"), "canceled", pro, None),
        ]
    )

    range_compute(start=D("2026-01-01"), end=D("2026-01-04"))
    alone = _rows()

    _results, errors = run_in_parallel(
        [
            lambda: range_compute(start=D("2026-01-01"), end=D("2026-01-04")),
            lambda: range_compute(start=D("2026-01-02"), end=D("2026-01-04")),
            lambda: day_compute(day=D("2026-01-03"), previous_snapshot=True),
        ]
    )

    assert errors == []
    assert _rows() == alone
    assert sorted((m[0].isoformat(), m[2], m[3]) for m in alone[1]) == [
        ("2026-01-01", "new", 1000),
        ("2026-01-01", "new", 3000),
        ("2026-01-02", "new", 1000),
        ("2026-01-03", "expansion", 2000),
        ("2026-01-04", "churn", -3000),
    ]


def test_two_cohort_rebuilds_at_once_leave_one_set_of_rows():
    basic = PlanPriceFactory(amount_minor=1000)
    history([(at("2026-01-02"), "active", basic, None)])
    history([(at("2026-02-03"), "active", basic, None)])
    range_compute(start=D("2026-01-01"), end=D("2026-02-05"))
    before = sorted(CohortMonth.objects.values_list("cohort_month", "months_since"))

    _results, errors = run_in_parallel(
        [lambda: cohorts_write(through=D("2026-02-05")) for _ in range(2)]
    )

    assert errors == []
    assert (
        sorted(CohortMonth.objects.values_list("cohort_month", "months_since"))
        == before
    )
    assert before == [(D("2026-01-01"), 0), (D("2026-01-01"), 1), (D("2026-02-01"), 0)]
