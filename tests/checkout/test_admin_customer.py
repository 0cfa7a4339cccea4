"""The customer part of a user's admin page: orders (account and guest ones in
their email), lifetime spend, addresses, coupons, store credit and the audit
trail, in a number of queries that does not grow with the orders."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.core.audit import audit_log
from apps.wallets.services import wallet_credit
from tests.accounts.factories import AddressFactory, UserFactory
from tests.checkout.factories import OrderFactory
from tests.coupons.factories import CouponFactory, CouponRedemptionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def customer():
    return UserFactory(email="ada@example.com")


def _page(staff_client, user):
    return staff_client.get(reverse("admin:accounts_user_change", args=[user.pk]))


def test_customer_page_shows_orders_spend_and_history(staff_client, customer):
    mine = OrderFactory(paid=True, user=customer, lines=2)  # 25.00
    guest = OrderFactory(paid=True, email="ADA@example.com")  # 15.00, as a guest
    OrderFactory(user=customer)  # unpaid: listed, not spent
    OrderFactory(paid=True, currency="EUR", user=customer, partially_refunded=True)
    OrderFactory(paid=True)  # someone else's
    AddressFactory(user=customer, line1="12 Analytical Row")
    CouponRedemptionFactory(
        coupon=CouponFactory(code="WELCOME10"), user=customer, order_ref=mine.number
    )
    wallet_credit(
        user=customer,
        currency="USD",
        amount_minor=1234,
        kind="goodwill",
        idempotency_key="goodwill-1",
    )
    audit_log(action="order.refund_requested", obj=mine)

    r = _page(staff_client, customer)

    html = r.content.decode()
    assert r.status_code == 200
    summary = r.context["customer"]
    assert summary.order_count == 4
    assert {o.number for o in summary.orders} >= {mine.number, guest.number}
    # 25.00 + 15.00 in USD; 15.00 less 7.50 refunded in EUR.
    assert "$40.00" in html
    assert "7.50 EUR" in html or "€7.50" in html
    assert "12 Analytical Row" in html
    assert "WELCOME10" in html
    assert "$12.34" in html
    assert "order.refund_requested" in html
    assert data_testid(html, "subscriptions")


def data_testid(html: str, name: str) -> bool:
    return f'data-testid="{name}"' in html


def test_customer_page_query_count_same_for_1_and_5_orders(staff_client, customer):
    OrderFactory(paid=True, user=customer, lines=2)
    _page(staff_client, customer)
    with CaptureQueriesContext(connection) as one:
        _page(staff_client, customer)
    for _ in range(4):
        OrderFactory(paid=True, user=customer, lines=2)

    with CaptureQueriesContext(connection) as five:
        r = _page(staff_client, customer)

    assert len(r.context["customer"].orders) == 5
    assert len(five) == len(one)


def test_customer_page_without_order_permission_shows_no_customer_panel(
    client, customer
):
    from django.contrib.auth.models import Permission

    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="accounts", codename__in=["view_user"]
        )
    )
    client.force_login(staff)
    OrderFactory(paid=True, user=customer)

    r = _page(client, customer)

    assert r.status_code == 200
    assert "customer" not in r.context
