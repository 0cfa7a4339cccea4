import csv
import datetime as dt
import io

import pytest
from django.urls import reverse

from apps.analytics.services.jobs import range_compute
from tests.accounts.factories import UserFactory
from tests.analytics.factories import at, history
from tests.subscriptions.factories import PlanPriceFactory

pytestmark = pytest.mark.django_db

URL = "/staff/analytics/"
RANGE = {"start": "2026-01-01", "end": "2026-01-04", "currency": "USD"}


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True))
    return client


@pytest.fixture
def computed():
    basic = PlanPriceFactory(amount_minor=1000, plan__slug="basic")
    pro = PlanPriceFactory(amount_minor=3000, plan__slug="pro")
    history([(at("2025-12-20"), "active", basic, None)])
    history(
        [
            (at("2025-12-20"), "active", basic, None),
            (at("2026-01-02"), "active", pro, None),
        ]
    )
    history(
        [
            (at("2025-12-20"), "active", basic, None),
            (at("2026-01-03"), "canceled", basic, None),
        ]
    )
    range_compute(start=dt.date(2025, 12, 28), end=dt.date(2026, 1, 4))


def test_dashboard_url_is_staff_analytics():
    assert reverse("analytics:dashboard") == URL


@pytest.mark.parametrize("who", ["anonymous", "customer"])
def test_dashboard_answers_404_to_non_staff(client, who):
    if who == "customer":
        client.force_login(UserFactory())
    assert client.get(URL).status_code == 404


def test_dashboard_shows_tiles_charts_and_tables(staff_client, computed):
    r = staff_client.get(URL, RANGE)

    assert r.status_code == 200
    page = r.content.decode()
    # MRR on Jan 4: 1000 + 3000 (the third customer churned on Jan 3).
    assert 'data-testid="tile-mrr"' in page
    assert "$40.00" in page
    assert "$480.00" in page  # ARR = 12 × MRR
    for chart in (
        "chart-mrr",
        "chart-movements",
        "chart-churn",
        "chart-gmv",
        "chart-plans",
    ):
        assert f'id="{chart}"' in page
    assert "vendor/chartjs-4.4.9/chart.umd.js" in page
    assert 'data-testid="heat-map"' in page
    assert 'id="analytics-data"' in page
    # The numbers behind the charts are in tables too.
    assert "<td>2026-01-04</td>" in page or "<td>Jan. 4, 2026</td>" in page


def test_dashboard_tile_compares_with_previous_period(staff_client, computed):
    r = staff_client.get(URL, RANGE)
    tiles = {t.key: t for t in r.context["tiles"]}
    assert tiles["mrr"].value == 4000
    assert tiles["mrr"].previous == 3000  # Dec 31, end of the 4 days before
    assert tiles["mrr"].change == 1000
    assert tiles["net_new"].value == 1000  # +2000 expansion, −1000 churn
    assert tiles["customers"].value == 2
    assert tiles["churn_bp"].value == 3333  # 1 of the 3 paying at the start


def test_dashboard_csv_export_downloads_the_table(staff_client, computed):
    r = staff_client.get(URL, {**RANGE, "export": "movements"})

    assert r.status_code == 200
    assert r["Content-Type"].startswith("text/csv")
    assert "attachment" in r["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(r.content.decode())))
    assert rows[0][:2] == ["day", "new_minor"]
    assert ["2026-01-02", "0", "0", "2000", "0", "0", "2000"] in rows
    assert ["2026-01-03", "0", "0", "0", "0", "-1000", "-1000"] in rows


def test_dashboard_bad_range_answers_400_with_the_form(staff_client):
    r = staff_client.get(URL, {"start": "2026-02-01", "end": "2026-01-01"})
    assert r.status_code == 400
    assert "must not be after" in r.content.decode()


def test_admin_index_links_to_the_dashboard(staff_client, computed):
    user = UserFactory(is_staff=True, is_superuser=True)
    staff_client.force_login(user)
    page = staff_client.get(reverse("admin:index")).content.decode()
    assert f'href="{URL}"' in page
    assert "MRR $40.00" in page


def test_dashboard_converts_mrr_to_the_reporting_currency_with_the_stored_rate(
    staff_client, settings
):
    from decimal import Decimal

    from apps.analytics.models import ExchangeRate
    from apps.analytics.selectors import mrr_in_reporting_currency

    settings.ANALYTICS_REPORTING_CURRENCY = "USD"
    history([(at("2026-01-01"), "active", PlanPriceFactory(amount_minor=1000), None)])
    eur = PlanPriceFactory(amount_minor=999, currency="EUR")
    history([(at("2026-01-01"), "active", eur, None)])
    jpy = PlanPriceFactory(amount_minor=1500, currency="JPY")
    history([(at("2026-01-01"), "active", jpy, None)])
    range_compute(start=dt.date(2026, 1, 1), end=dt.date(2026, 1, 2))
    ExchangeRate.objects.create(
        day=dt.date(2025, 12, 31),
        currency="EUR",
        reporting_currency="USD",
        rate=Decimal("1.08500000"),
    )

    lines, total = mrr_in_reporting_currency(
        on=dt.date(2026, 1, 2), reporting_currency="USD"
    )

    # EUR 9.99 × 1.085 = 10.83915 → 1083.915 cents → 1084; JPY has no rate.
    assert [(x.currency, x.converted_minor) for x in lines] == [
        ("EUR", 1084),
        ("JPY", None),
        ("USD", 1000),
    ]
    assert total == 2084
    page = staff_client.get(URL, {"start": "2026-01-01", "end": "2026-01-02"})
    html = page.content.decode()
    assert "1.08500000 (2025-12-31)" in html
    assert "no stored rate" in html


def test_dashboard_lists_top_products_and_discounts_by_coupon(staff_client):
    import time_machine

    from tests.checkout.factories import OrderFactory, OrderLineFactory

    with time_machine.travel(at("2026-01-02"), tick=False):
        order = OrderFactory(
            paid=True,
            payment=False,
            lines=False,
            coupons=[{"code": "WINTER10", "discount_minor": 300}],
        )
        OrderLineFactory(order=order, title="Mug", sku="MUG", quantity=3)
        OrderLineFactory(order=order, title="Tee", sku="TEE", quantity=1)
    range_compute(start=dt.date(2026, 1, 2), end=dt.date(2026, 1, 2))

    r = staff_client.get(URL, {"start": "2026-01-02", "end": "2026-01-02"})
    tables = r.context["tables"]

    assert tables["top_products"][1] == [
        ["MUG", "Mug", 3, 3000],
        ["TEE", "Tee", 1, 1000],
    ]
    assert tables["discounts_by_coupon"][1] == [["WINTER10", 1, 300]]
    csv_response = staff_client.get(
        URL, {"start": "2026-01-02", "export": "top_products"}
    )
    assert csv_response["Content-Type"].startswith("text/csv")


def test_dashboard_query_count_does_not_grow_with_customers_or_days(staff_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    basic = PlanPriceFactory(amount_minor=1000, plan__slug="basic")
    counts = []
    for customers, end in ((1, "2026-01-02"), (5, "2026-01-06")):
        for _ in range(customers):
            history([(at("2026-01-01"), "active", basic, None)])
        range_compute(start=dt.date(2026, 1, 1), end=dt.date.fromisoformat(end))
        with CaptureQueriesContext(connection) as queries:
            staff_client.get(URL, {"start": "2026-01-01", "end": end})
        counts.append(len(queries))
    assert counts[0] == counts[1]
