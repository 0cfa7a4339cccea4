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
    reader = csv.DictReader(io.StringIO(response.content.decode()))
    rows = list(reader)
    assert reader.fieldnames == ["code", "template", "kind", "value", "ends_at"]
    assert len(rows) == 5
    assert {row["value"] for row in rows} == {"2000"}
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
            "value": "25",
            "currency": "USD",
            "applies_to": "orders",
            "duration": "once",
            "is_active": "on",
            "minimum_subtotal_minor": "0.00",
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
    assert "value: 10% → 25%" in entry.get_change_message()
    coupon.refresh_from_db()
    assert coupon.value == 2500


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


_ADD_URL = "/admin/coupons/coupon/add/"


def _coupon_data(**overrides) -> dict:
    """A valid admin POST for a coupon, in the units staff type."""
    data = {
        "code": "NEW",
        "kind": "percentage",
        "value": "10",
        "currency": "USD",
        "applies_to": "orders",
        "duration": "once",
        "is_active": "on",
        "minimum_subtotal_minor": "0",
        "maximum_discount_minor": "",
        "priority": 0,
        "buy_quantity": 0,
        "get_quantity": 0,
        "is_combinable": "on",
        "redemptions-TOTAL_FORMS": 0,
        "redemptions-INITIAL_FORMS": 0,
    }
    return {**data, **overrides}


def _saved(response) -> Coupon:
    assert response.status_code == 302, response.context["adminform"].form.errors
    return Coupon.objects.get(code="NEW")


@pytest.mark.parametrize(
    ("overrides", "value"),
    [
        ({"kind": "percentage", "value": "12.5"}, 1250),
        ({"kind": "percentage", "value": "12.50"}, 1250),
        ({"kind": "percentage", "value": "100"}, 10_000),
        ({"kind": "fixed_amount", "value": "5.00"}, 500),
        ({"kind": "fixed_amount", "value": "1200", "currency": "JPY"}, 1200),
        (
            {
                "kind": "buy_x_get_y",
                "value": "50",
                "buy_quantity": 2,
                "get_quantity": 1,
            },
            5000,
        ),
        ({"kind": "free_shipping", "value": ""}, 0),
    ],
)
def test_coupon_add_typed_value_saved_in_storage_units(staff_client, overrides, value):
    coupon = _saved(staff_client.post(_ADD_URL, _coupon_data(**overrides)))

    assert coupon.value == value


def test_coupon_add_money_limits_typed_in_the_coupon_currency(staff_client):
    response = staff_client.post(
        _ADD_URL,
        _coupon_data(minimum_subtotal_minor="50.00", maximum_discount_minor="7.5"),
    )

    coupon = _saved(response)
    assert coupon.minimum_subtotal_minor == 5000
    assert coupon.maximum_discount_minor == 750


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"value": "101"}, "value", "at most 100"),
        ({"value": "0"}, "value", "above 0"),
        ({"value": "12.345"}, "value", "at most 2 decimal places"),
        ({"value": "12.5%"}, "value", "plain number"),
        (
            {"kind": "fixed_amount", "value": "5.001"},
            "value",
            "USD has 2 decimal places: 5.001 has more.",
        ),
        (
            {"kind": "fixed_amount", "value": "12.5", "currency": "JPY"},
            "value",
            "JPY has no decimal places",
        ),
        ({"kind": "fixed_amount", "value": "0"}, "value", "above zero"),
        (
            {"kind": "fixed_amount", "value": "21474836.48"},
            "value",
            "too large",
        ),
        (
            {"kind": "fixed_amount", "value": "5.00", "currency": ""},
            "currency",
            "Enter the coupon's currency",
        ),
        ({"kind": "free_shipping", "value": "5"}, "value", "leave this empty"),
        (
            {"minimum_subtotal_minor": "5.001"},
            "minimum_subtotal_minor",
            "USD has 2 decimal places",
        ),
        (
            {"maximum_discount_minor": "-1"},
            "maximum_discount_minor",
            "zero or more",
        ),
    ],
)
def test_coupon_add_bad_input_is_an_error_next_to_the_field_and_saves_nothing(
    staff_client, overrides, field, message
):
    response = staff_client.post(_ADD_URL, _coupon_data(**overrides))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert field in errors
    assert message in " ".join(errors[field])
    assert not Coupon.objects.exists()


def test_coupon_edit_bad_percent_leaves_the_stored_coupon_alone(staff_client):
    coupon = CouponFactory(code="NEW", value=1250)

    response = staff_client.post(
        f"/admin/coupons/coupon/{coupon.pk}/change/", _coupon_data(value="12.345")
    )

    assert response.status_code == 200
    assert "value" in response.context["adminform"].form.errors
    coupon.refresh_from_db()
    assert coupon.value == 1250


def _change_form_value(client, coupon: Coupon, field: str) -> str:
    response = client.get(f"/admin/coupons/coupon/{coupon.pk}/change/")
    assert response.status_code == 200
    return str(response.context["adminform"].form[field])


@pytest.mark.parametrize(
    ("factory_kwargs", "field", "shown"),
    [
        ({"value": 1250}, "value", 'value="12.5"'),
        ({"value": 1000}, "value", 'value="10"'),
        ({"fixed": True, "value": 500}, "value", 'value="5.00"'),
        ({"fixed": True, "value": 1200, "currency": "JPY"}, "value", 'value="1200"'),
        ({"bxgy": True, "value": 5000}, "value", 'value="50"'),
        ({"minimum_subtotal_minor": 5000}, "minimum_subtotal_minor", 'value="50.00"'),
        ({"maximum_discount_minor": 750}, "maximum_discount_minor", 'value="7.50"'),
    ],
)
def test_coupon_change_form_shows_human_values(
    staff_client, factory_kwargs, field, shown
):
    coupon = CouponFactory(**factory_kwargs)

    assert shown in _change_form_value(staff_client, coupon, field)


def test_coupon_change_form_free_shipping_value_is_empty(staff_client):
    coupon = CouponFactory(free_shipping=True)

    assert 'value="' not in _change_form_value(staff_client, coupon, "value")


def test_coupon_change_form_resaved_unchanged_keeps_values_and_logs_no_change(
    staff_client,
):
    coupon = CouponFactory(
        code="NEW", fixed=True, value=500, minimum_subtotal_minor=5000
    )

    response = staff_client.post(
        f"/admin/coupons/coupon/{coupon.pk}/change/",
        _coupon_data(kind="fixed_amount", value="5.00", minimum_subtotal_minor="50"),
    )

    assert response.status_code == 302
    coupon.refresh_from_db()
    assert (coupon.value, coupon.minimum_subtotal_minor) == (500, 5000)
    entry = LogEntry.objects.get(object_id=str(coupon.pk))
    assert entry.get_change_message() == "No fields changed."


def test_coupon_edit_history_shows_money_and_kind_changes_in_human_units(
    staff_client,
):
    coupon = CouponFactory(code="NEW", value=1000)

    response = staff_client.post(
        f"/admin/coupons/coupon/{coupon.pk}/change/",
        _coupon_data(kind="fixed_amount", value="10", minimum_subtotal_minor="50"),
    )

    assert response.status_code == 302
    message = LogEntry.objects.get(object_id=str(coupon.pk)).get_change_message()
    assert "value: 10% → $10.00" in message
    assert "minimum_subtotal_minor: $0.00 → $50.00" in message


def test_coupon_changelist_shows_value_in_human_terms(staff_client):
    CouponFactory(code="PCT", value=1250)
    CouponFactory(code="FIVE", fixed=True, value=500)
    CouponFactory(code="YEN", fixed=True, value=1200, currency="JPY")
    CouponFactory(code="SHIP", free_shipping=True)
    CouponFactory(code="HALF", bxgy=True, value=5000)
    CouponFactory(code="FREE", bxgy=True, value=10_000)

    html = staff_client.get("/admin/coupons/coupon/").content.decode()

    assert "12.5%" in _changelist_row(html, "PCT")
    assert "$5.00 off" in _changelist_row(html, "FIVE")
    assert "¥1,200 off" in _changelist_row(html, "YEN")
    assert "free shipping" in _changelist_row(html, "SHIP")
    assert "buy 2 get 1 at 50% off" in _changelist_row(html, "HALF")
    assert "buy 2 get 1 free" in _changelist_row(html, "FREE")


def test_coupon_add_form_loads_with_help_in_human_units(staff_client):
    response = staff_client.get(_ADD_URL)

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert 'value="0.00"' in str(form["minimum_subtotal_minor"])
    assert "12.5 for 12.5 %" in form.fields["value"].help_text
    assert "applies in any currency" in form.fields["currency"].help_text


def test_coupon_admin_repeating_without_months_is_form_error(staff_client):
    response = staff_client.post(
        _ADD_URL,
        _coupon_data(applies_to="subscriptions", duration="repeating"),
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "duration_in_months" in errors
    assert not Coupon.objects.filter(code="NEW").exists()


def test_coupon_admin_subscription_coupon_saves(staff_client):
    response = staff_client.post(
        _ADD_URL,
        _coupon_data(applies_to="both", duration="repeating", duration_in_months="3"),
    )
    coupon = _saved(response)
    assert (coupon.applies_to, coupon.duration, coupon.duration_in_months) == (
        "both",
        "repeating",
        3,
    )
