import datetime as dt

import pytest
from django.core.management import call_command

from apps.analytics.models import (
    ComputedDay,
    DailyMetrics,
    DailySubscriptionSnapshot,
    MrrMovement,
)
from apps.analytics.services.jobs import nightly_run, range_compute
from tests.analytics.factories import at, history
from tests.subscriptions.factories import PlanPriceFactory

pytestmark = pytest.mark.django_db

D = dt.date.fromisoformat


def _state():
    return (
        sorted(
            DailySubscriptionSnapshot.objects.values_list(
                "day", "subscription_id", "status", "mrr_minor"
            )
        ),
        sorted(
            MrrMovement.objects.values_list("day", "user_id", "kind", "amount_minor")
        ),
        sorted(DailyMetrics.objects.values_list("day", "currency", "mrr_minor")),
    )


def test_range_compute_again_replaces_rows_instead_of_adding():
    price = PlanPriceFactory(amount_minor=1000)
    history([(at("2026-01-02"), "active", price, None)])
    range_compute(start=D("2026-01-01"), end=D("2026-01-03"))
    first = _state()
    range_compute(start=D("2026-01-02"), end=D("2026-01-03"))
    range_compute(start=D("2026-01-01"), end=D("2026-01-03"))
    assert _state() == first
    assert MrrMovement.objects.get().kind == "new"
    assert DailyMetrics.objects.get(day=D("2026-01-03")).mrr_minor == 1000


def test_nightly_run_recomputes_the_last_three_days_up_to_yesterday(settings):
    settings.ANALYTICS_RECOMPUTE_DAYS = 3
    assert nightly_run(today=D("2026-02-10")) == 3
    assert sorted(ComputedDay.objects.values_list("day", flat=True)) == [
        D("2026-02-07"),
        D("2026-02-08"),
        D("2026-02-09"),
    ]


def test_analytics_backfill_command_prints_progress_and_computes_each_day(capsys):
    call_command(
        "analytics_backfill",
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-05",
        "--chunk-days",
        "2",
    )
    out = capsys.readouterr().out
    assert "5/5 2026-01-05" in out
    assert "Recomputed 5 days." in out
    assert ComputedDay.objects.count() == 5
