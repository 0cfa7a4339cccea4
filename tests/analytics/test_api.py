import datetime as dt

import pytest
from rest_framework.test import APIClient

from apps.analytics.services.jobs import range_compute
from tests.accounts.factories import UserFactory
from tests.analytics.factories import at, history
from tests.subscriptions.factories import PlanPriceFactory

pytestmark = pytest.mark.django_db

ENDPOINTS = [
    "/api/v1/analytics/metrics/",
    "/api/v1/analytics/movements/",
    "/api/v1/analytics/cohorts/",
    "/api/v1/plans/basic/analytics/",
]
RANGE = {"from": "2026-01-01", "to": "2026-01-03", "currency": "USD"}


@pytest.fixture
def staff():
    client = APIClient()
    client.force_authenticate(UserFactory(is_staff=True))
    return client


@pytest.fixture
def computed():
    basic = PlanPriceFactory(amount_minor=1000, plan__slug="basic")
    history([(at("2025-12-20"), "active", basic, None)])
    history([(at("2026-01-02"), "active", basic, None)])
    range_compute(start=dt.date(2026, 1, 1), end=dt.date(2026, 1, 3))


@pytest.mark.parametrize("url", ENDPOINTS)
def test_analytics_api_refuses_non_staff_with_403(url):
    client = APIClient()
    client.force_authenticate(UserFactory())
    r = client.get(url)
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "permission_denied"


def test_metrics_api_lists_days_of_the_range(staff, computed):
    r = staff.get("/api/v1/analytics/metrics/", RANGE)
    assert r.status_code == 200
    assert [(d["day"], d["mrr_minor"]) for d in r.json()] == [
        ("2026-01-01", 1000),
        ("2026-01-02", 2000),
        ("2026-01-03", 2000),
    ]


def test_movements_api_sums_kinds_per_day(staff, computed):
    r = staff.get("/api/v1/analytics/movements/", RANGE)
    assert r.status_code == 200
    assert r.json() == [
        {
            "day": "2026-01-02",
            "currency": "USD",
            "new_minor": 1000,
            "reactivation_minor": 0,
            "expansion_minor": 0,
            "contraction_minor": 0,
            "churn_minor": 0,
            "net_minor": 1000,
        }
    ]


def test_cohorts_api_lists_cohort_rows(staff, computed):
    r = staff.get("/api/v1/analytics/cohorts/", {"currency": "USD"})
    assert r.status_code == 200
    assert [
        (
            c["cohort_month"],
            c["months_since"],
            c["customers_start"],
            c["customers_retained"],
        )
        for c in r.json()
    ] == [("2026-01-01", 0, 1, 1)]


def test_plan_analytics_api_gives_subscribers_and_mrr(staff, computed):
    r = staff.get("/api/v1/plans/basic/analytics/")
    assert r.status_code == 200
    body = r.json()
    assert body["subscribers_by_status"] == {"active": 2}
    assert body["mrr"] == {"USD": 2000}
    assert body["new_this_month"] == 1


def test_plan_analytics_api_unknown_plan_is_404(staff):
    r = staff.get("/api/v1/plans/nope/analytics/")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "plan_not_found"


def test_metrics_api_bad_range_is_400(staff):
    r = staff.get(
        "/api/v1/analytics/metrics/", {"from": "2026-02-01", "to": "2026-01-01"}
    )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/analytics/metrics/",
        "/api/v1/analytics/movements/",
        "/api/v1/analytics/cohorts/",
    ],
)
def test_analytics_api_query_count_same_for_1_and_5_days(staff, url):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    basic = PlanPriceFactory(amount_minor=1000)
    history([(at("2026-01-01"), "active", basic, None)])
    history([(at("2026-01-03"), "active", basic, None)])
    range_compute(start=dt.date(2026, 1, 1), end=dt.date(2026, 1, 5))
    counts = []
    for end in ("2026-01-01", "2026-01-05"):
        with CaptureQueriesContext(connection) as queries:
            assert staff.get(url, {"from": "2026-01-01", "to": end}).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]
