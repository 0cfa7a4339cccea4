import csv
import io

import pytest
from django.contrib.admin.models import LogEntry

from apps.coupons.models import Coupon
from tests.coupons.factories import CouponFactory, CouponRedemptionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser(
        email="admin@example.com", password="x"
    )
    client.force_login(admin)
    return client


def test_coupon_changelist_shows_redemption_count_and_discount_total(staff_client):
    coupon = CouponFactory(code="SPRING")
    CouponRedemptionFactory(coupon=coupon, discount_minor=250)
    CouponRedemptionFactory(coupon=coupon, discount_minor=1000)
    response = staff_client.get("/admin/coupons/coupon/")
    assert response.status_code == 200
    html = response.content.decode()
    row = html[html.index(">SPRING<") :]
    row = row[: row.index("</tr>")]
    assert ">2<" in row
    assert "$12.50" in row


@pytest.mark.parametrize(
    "query",
    ["?is_active__exact=1", "?expired=yes", "?expired=no", "?kind=fixed_amount"],
)
def test_coupon_changelist_filters_load(staff_client, query):
    CouponFactory(code="OLD", expired=True)
    CouponFactory(code="FIXED5", fixed=True)
    response = staff_client.get(f"/admin/coupons/coupon/{query}")
    assert response.status_code == 200
    html = response.content.decode()
    if query == "?expired=yes":
        assert ">OLD<" in html
        assert ">FIXED5<" not in html
    if query == "?kind=fixed_amount":
        assert ">FIXED5<" in html
        assert ">OLD<" not in html


def test_redemption_changelist_loads(staff_client):
    CouponRedemptionFactory(order_ref="ORD-77")
    response = staff_client.get("/admin/coupons/couponredemption/")
    assert response.status_code == 200
    assert b"ORD-77" in response.content


def test_generate_codes_action_downloads_csv_of_new_single_use_codes(staff_client):
    template = CouponFactory(code="TPL", value=2000)
    url = "/admin/coupons/coupon/"
    form = staff_client.post(
        url, {"action": "generate_codes", "_selected_action": [template.pk]}
    )
    assert form.status_code == 200
    assert b"Generate and download" in form.content
    response = staff_client.post(
        url,
        {
            "action": "generate_codes",
            "_selected_action": [template.pk],
            "count": 5,
            "prefix": "vip-",
        },
    )
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 5
    assert all(row["code"].startswith("VIP-") for row in rows)
    assert set(
        Coupon.objects.filter(generated_from=template).values_list("code", flat=True)
    ) == {row["code"] for row in rows}


def test_coupon_edit_records_who_changed_what(staff_client):
    coupon = CouponFactory(code="EDITME", value=1000)
    response = staff_client.post(
        f"/admin/coupons/coupon/{coupon.pk}/change/",
        {
            "code": "EDITME",
            "kind": "percentage",
            "value": 2500,
            "currency": "USD",
            "is_active": "on",
            "minimum_subtotal_minor": 0,
            "priority": 0,
            "buy_quantity": 0,
            "get_quantity": 0,
            "is_combinable": "on",
            "redemptions-TOTAL_FORMS": 0,
            "redemptions-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    entry = LogEntry.objects.get(object_id=str(coupon.pk))
    assert entry.user.email == "admin@example.com"
    assert "value: 1000 → 2500" in entry.get_change_message()


def test_stacking_settings_admin_changelist_loads(staff_client):
    assert staff_client.get("/admin/coupons/stackingsettings/").status_code == 200
    assert staff_client.get("/admin/coupons/stackingsettings/add/").status_code == 200


def _changelist_row(html: str, code: str) -> str:
    row = html[html.index(f">{code}<") :]
    return row[: row.index("</tr>")]


def test_coupon_changelist_discount_given_totals_each_currency(staff_client):
    coupon = CouponFactory(code="WORLD", currency="USD")
    CouponRedemptionFactory(coupon=coupon, discount_minor=700, currency="EUR")
    CouponRedemptionFactory(coupon=coupon, discount_minor=300, currency="EUR")
    CouponRedemptionFactory(coupon=coupon, discount_minor=500, currency="USD")
    CouponRedemptionFactory(coupon=coupon, discount_minor=1200, currency="JPY")
    CouponFactory(code="UNUSED", currency="EUR")

    response = staff_client.get("/admin/coupons/coupon/")

    html = response.content.decode()
    row = _changelist_row(html, "WORLD")
    assert "€10.00 + ¥1,200 + $5.00" in row
    assert "$15.00" not in row
    assert "€0.00" in _changelist_row(html, "UNUSED")


def _coupon_with_two_currencies() -> None:
    coupon = CouponFactory()
    CouponRedemptionFactory(coupon=coupon, currency="EUR")
    CouponRedemptionFactory(coupon=coupon, currency="USD")


def test_coupon_changelist_query_count_same_for_1_and_5_coupons(staff_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for added in (1, 4):
        for _ in range(added):
            _coupon_with_two_currencies()
        with CaptureQueriesContext(connection) as ctx:
            response = staff_client.get("/admin/coupons/coupon/")
        assert response.status_code == 200
        counts.append(len(ctx.captured_queries))
    assert response.content.decode().count("€1.00 + $1.00") == 5
    assert counts[0] == counts[1]


def test_stacking_settings_edited_in_admin_govern_the_next_coupon(staff_client):
    from rest_framework.test import APIClient

    from tests.carts.factories import CartLineFactory

    CouponFactory(code="FIVEOFF", fixed=True, value=500)
    CouponFactory(code="TENOFF", fixed=True, value=1000)
    cart = CartLineFactory(quantity=3, unit_price_minor=2000).cart
    api = APIClient()
    url = f"/api/v1/carts/{cart.pk}/coupons/"

    saved = staff_client.post(
        "/admin/coupons/stackingsettings/add/",
        {"max_coupons_per_order": 2, "free_shipping_combines": "on"},
    )
    assert saved.status_code == 302
    assert api.post(url, {"code": "FIVEOFF"}, format="json").status_code == 200
    assert api.post(url, {"code": "TENOFF"}, format="json").status_code == 200
    assert api.delete(f"{url}TENOFF/").status_code == 200

    # Staff tighten the rules to one coupon per order.
    saved = staff_client.post(
        "/admin/coupons/stackingsettings/1/change/",
        {"max_coupons_per_order": 1, "free_shipping_combines": "on"},
    )
    assert saved.status_code == 302
    refused = api.post(url, {"code": "TENOFF"}, format="json")

    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "coupon_not_combinable"
    assert refused.json()["error"]["details"]["conflicting_code"] == "FIVEOFF"
