"""The staff dashboard on the admin home: sales per period in currency units,
orders to ship, low stock, failed payments and refunds, in a fixed number of
queries."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.checkout.selectors import sales_summary
from apps.core.money import Money
from tests.accounts.factories import UserFactory
from tests.billing.factories import PaymentFactory, RefundFactory
from tests.checkout.factories import OrderFactory
from tests.inventory.factories import VariantFactory

pytestmark = pytest.mark.django_db

# Wednesday 9 December 2026, noon UTC: the week began on Monday the 7th.
NOW = datetime.datetime(2026, 12, 9, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def _paid(at, **kwargs):
    return OrderFactory(paid=True, paid_at=at, **kwargs)


def test_sales_summary_counts_orders_and_net_revenue_per_period():
    _paid(NOW - datetime.timedelta(hours=1))  # today: 15.00
    _paid(NOW - datetime.timedelta(days=2), partially_refunded=True)  # Monday
    _paid(NOW - datetime.timedelta(days=5), currency="EUR")  # Friday 4th
    _paid(NOW - datetime.timedelta(days=40))  # last month: nowhere
    OrderFactory(created_at=NOW)  # unpaid: nowhere

    today, week, month = sales_summary(now=NOW)

    assert (today.label, today.orders, today.revenue) == (
        "Today",
        1,
        (Money(1500, "USD"),),
    )
    # 15.00 + (15.00 - 7.50 refunded)
    assert (week.orders, week.revenue) == (2, (Money(2250, "USD"),))
    assert (month.orders, month.revenue) == (
        3,
        (Money(1500, "EUR"), Money(2250, "USD")),
    )


def test_sales_summary_week_reaches_back_into_last_month():
    tuesday_first = datetime.datetime(2026, 9, 1, 9, 0, tzinfo=datetime.UTC)
    _paid(tuesday_first - datetime.timedelta(days=1))  # Monday 31 August

    _, week, month = sales_summary(now=tuesday_first)

    assert week.orders == 1
    assert month.orders == 0


def _shop(n: int) -> None:
    """n of everything the dashboard lists."""
    for _ in range(n):
        _paid(timezone.now(), lines=2)
        VariantFactory(stock=1)
        PaymentFactory(declined=True)
        RefundFactory(amount_minor=700)


def test_dashboard_shows_sales_work_and_trouble_in_currency_units(staff_client):
    order = _paid(timezone.now(), lines=2)  # 25.00
    low = VariantFactory(sku="LOW-1", stock=2)
    VariantFactory(sku="PLENTY-1", stock=50)
    PaymentFactory(declined=True, reference="T-DECLINED", amount_minor=4200)
    RefundFactory(payment__reference="T-REFUNDED", amount_minor=700)

    r = staff_client.get(reverse("admin:index"))

    html = r.content.decode()
    assert r.status_code == 200
    assert "1 order" in html
    assert "$25.00" in html
    assert "Waiting for fulfilment (1)" in html
    assert reverse("admin:checkout_order_change", args=[order.pk]) in html
    assert low.sku in html
    assert "PLENTY-1" not in html
    assert "T-DECLINED" in html
    assert "$42.00" in html
    assert "Your card was declined." in html
    assert "T-REFUNDED" in html
    assert "$7.00" in html
    assert 'id="dashboard-charts"' in html
    assert "2500" not in html


def test_dashboard_fulfilled_order_is_not_waiting(staff_client):
    OrderFactory(fulfilled=True)

    r = staff_client.get(reverse("admin:index"))

    assert "Waiting for fulfilment (0)" in r.content.decode()


@pytest.mark.parametrize("rows", [1, 5])
def test_dashboard_at_most_ten_queries_whatever_the_rows(
    staff_client, django_assert_max_num_queries, rows
):
    _shop(rows)
    staff_client.get(reverse("admin:index"))

    with django_assert_max_num_queries(10):
        r = staff_client.get(reverse("admin:index"))

    assert r.status_code == 200


def test_dashboard_query_count_same_for_1_and_5_rows(staff_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for rows in (1, 4):
        _shop(rows)
        with CaptureQueriesContext(connection) as queries:
            staff_client.get(reverse("admin:index"))
        counts.append(len(queries))

    assert counts[0] == counts[1]


def test_dashboard_waiting_count_beyond_the_listed_rows(staff_client):
    for _ in range(11):
        _paid(timezone.now())

    r = staff_client.get(reverse("admin:index"))

    assert "Waiting for fulfilment (11)" in r.content.decode()
    assert len(r.context["dashboard"]["waiting"]) == 10
