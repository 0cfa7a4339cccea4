"""Staff screens: changelists load without N+1, the order page shows lines,
payments and events, and the actions (fulfil, refunds, resend, retry) work
end to end against localstripe."""

import pytest
import requests
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.billing import gateway
from apps.billing.models import Payment, PaymentRefund
from apps.checkout.models import (
    Order,
    OrderEvent,
    ShippingMethod,
    WeightBand,
)
from apps.core.workflows import workflow_fail
from apps.inventory.models import StockItem, StockMovement
from tests.accounts.factories import UserFactory
from tests.billing.factories import PaymentFactory
from tests.checkout.conftest import api_checkout_to_payment, confirm_card, idem
from tests.checkout.factories import (
    CheckoutFactory,
    OrderFactory,
    ShippingMethodFactory,
    ShippingZoneFactory,
    TaxRateFactory,
    WeightBandFactory,
)
from tests.checkout.test_views import make_order
from tests.conftest import admin_change_form_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def _rows_for(model: str, n: int) -> None:
    """Create n more rows shown on ``model``'s changelist."""
    for _ in range(n):
        if model == "order":
            OrderFactory(paid=True, lines=2)
        elif model == "checkout":
            CheckoutFactory(at_payment=True)
        elif model == "shippingmethod":
            ShippingMethodFactory()
        elif model == "shippingzone":
            ShippingZoneFactory()
        elif model == "taxrate":
            TaxRateFactory(country=f"Q{TaxRateFactory._meta.model.objects.count()}")
        elif model == "payment":
            OrderFactory(partially_refunded=True)  # a payment with a refund


CHANGELISTS = [
    ("checkout", "order"),
    ("checkout", "checkout"),
    ("checkout", "shippingmethod"),
    ("checkout", "shippingzone"),
    ("checkout", "taxrate"),
    ("billing", "payment"),
]


@pytest.mark.parametrize(("app", "model"), CHANGELISTS)
def test_admin_changelist_query_count_same_for_1_and_5_rows(
    staff_client, django_assert_num_queries, app, model
):
    url = reverse(f"admin:{app}_{model}_changelist")
    _rows_for(model, 1)
    staff_client.get(url)
    with CaptureQueriesContext(connection) as one:
        assert staff_client.get(url).status_code == 200
    _rows_for(model, 4)

    with django_assert_num_queries(len(one)):
        r = staff_client.get(url)

    assert r.status_code == 200
    assert r.context["cl"].result_count == 5


def test_admin_tax_settings_changelist_loads(staff_client):
    r = staff_client.get(reverse("admin:checkout_taxsettings_changelist"))

    assert r.status_code == 200


def test_admin_changelist_needs_staff(client):
    client.force_login(UserFactory())

    r = client.get(reverse("admin:checkout_order_changelist"))

    assert r.status_code == 302
    assert "/admin/login/" in r["Location"]


# --- shipping prices typed in major units -----------------------------------------


def _method_change(staff_client, method, **changes):
    url = reverse("admin:checkout_shippingmethod_change", args=[method.pk])
    data = admin_change_form_data(staff_client.get(url))
    return staff_client.post(url, {**data, **changes})


def test_admin_shipping_method_changelist_shows_prices_in_currency(staff_client):
    ShippingMethodFactory(free_over=True, price_minor=500, free_over_minor=5000)

    r = staff_client.get(reverse("admin:checkout_shippingmethod_changelist"))

    html = r.content.decode()
    assert "$5.00" in html
    assert "$50.00" in html


def test_admin_shipping_method_page_shows_prices_as_decimals(staff_client):
    method = ShippingMethodFactory(weight=True, price_minor=500, free_over_minor=5000)
    WeightBandFactory(method=method, price_minor=750)

    r = staff_client.get(
        reverse("admin:checkout_shippingmethod_change", args=[method.pk])
    )

    html = r.content.decode()
    assert 'name="price_minor" value="5.00"' in html
    assert 'name="free_over_minor" value="50.00"' in html
    assert 'name="weight_bands-0-price_minor" value="7.50"' in html
    assert "Price (in the shipping method&#x27;s currency)" in html


def test_admin_shipping_method_post_decimals_saves_minor_units(staff_client):
    method = ShippingMethodFactory(weight=True, price_minor=1)
    band = WeightBandFactory(method=method, price_minor=1)

    r = _method_change(
        staff_client,
        method,
        price_minor="4.99",
        free_over_minor="75",
        **{"weight_bands-0-price_minor": "7.25"},
    )

    assert r.status_code == 302
    method.refresh_from_db()
    band.refresh_from_db()
    assert (method.price_minor, method.free_over_minor, band.price_minor) == (
        499,
        7500,
        725,
    )


def test_admin_shipping_method_bands_price_in_the_methods_new_currency(staff_client):
    method = ShippingMethodFactory(weight=True, price_minor=500, currency="USD")
    band = WeightBandFactory(method=method, price_minor=700)

    r = _method_change(
        staff_client,
        method,
        currency="JPY",
        price_minor="800",
        **{"weight_bands-0-price_minor": "1200"},
    )

    assert r.status_code == 302
    method.refresh_from_db()
    band.refresh_from_db()
    assert (method.currency, method.price_minor, band.price_minor) == ("JPY", 800, 1200)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"price_minor": "4.999"}, "price_minor", "USD has 2 decimal places"),
        ({"free_over_minor": "-5"}, "free_over_minor", "zero or more"),
        ({"free_over_minor": "fifty"}, "free_over_minor", "plain number"),
    ],
)
def test_admin_shipping_method_bad_amount_field_error_saves_nothing(
    staff_client, changes, field, message
):
    method = ShippingMethodFactory(price_minor=500, name="Before")

    r = _method_change(staff_client, method, name="After", **changes)

    assert r.status_code == 200
    errors = r.context["adminform"].form.errors
    assert list(errors) == [field]
    assert message in errors[field][0]
    method.refresh_from_db()
    assert (method.name, method.price_minor, method.free_over_minor) == (
        "Before",
        500,
        None,
    )


def test_admin_weight_band_bad_amount_field_error_saves_nothing(staff_client):
    method = ShippingMethodFactory(weight=True, currency="JPY", price_minor=800)
    band = WeightBandFactory(method=method, price_minor=1200)

    r = _method_change(staff_client, method, **{"weight_bands-0-price_minor": "12.5"})

    assert r.status_code == 200
    formset = r.context["inline_admin_formsets"][0].formset
    assert "JPY has no decimal places" in formset.errors[0]["price_minor"][0]
    band.refresh_from_db()
    assert band.price_minor == 1200


def test_admin_shipping_method_add_with_band_in_decimals(staff_client):
    zone = ShippingZoneFactory()
    url = reverse("admin:checkout_shippingmethod_add")
    data = admin_change_form_data(staff_client.get(url))

    r = staff_client.post(
        url,
        {
            **data,
            "zone": str(zone.pk),
            "name": "By weight",
            "rate_type": "weight",
            "price_minor": "0",
            "currency": "EUR",
            "weight_bands-TOTAL_FORMS": "1",
            "weight_bands-0-max_weight_grams": "2000",
            "weight_bands-0-price_minor": "9.90",
        },
    )

    assert r.status_code == 302
    method = ShippingMethod.objects.get(name="By weight")
    assert (method.currency, method.price_minor) == ("EUR", 0)
    assert WeightBand.objects.get(method=method).price_minor == 990


# --- orders paid through localstripe ---------------------------------------------


@pytest.fixture
def paid_order(api_client, make_cart, localstripe, django_capture_on_commit_callbacks):
    """Two lines of 2 × 20.00, 5.00 shipping, 10 % tax: paid through the API."""
    method = ShippingMethodFactory(price_minor=500)
    TaxRateFactory(basis_points=1000)
    cart = make_cart(lines=((None, 2), (None, 2)), stock=10, price=2000)
    session = api_checkout_to_payment(api_client, cart, method=method)
    confirm_card(session["payment_intent_id"])
    with django_capture_on_commit_callbacks(execute=True):
        r = api_client.post(
            f"/api/v1/checkouts/{session['checkout_id']}/complete/",
            format="json",
            **idem(),
        )
    assert r.json()["status"] == "paid", r.content
    mail.outbox.clear()
    return Order.objects.get(number=r.json()["number"])


def _stripe_refunds(localstripe, order) -> list[dict]:
    payment = Payment.objects.get(reference=order.number)
    r = requests.get(
        f"{localstripe}/v1/refunds",
        params={"payment_intent": payment.intent_id},
        auth=(gateway.secret_key(), ""),
        timeout=10,
    )
    return r.json()["data"]


def _on_hand(line) -> int:
    return StockItem.objects.get(variant_id=line.variant_id).on_hand


@pytest.mark.localstripe
def test_admin_order_change_page_shows_lines_payments_events(staff_client, paid_order):
    r = staff_client.get(reverse("admin:checkout_order_change", args=[paid_order.pk]))

    assert r.status_code == 200
    html = r.content.decode()
    for line in paid_order.lines.all():
        assert line.sku in html
    payment = Payment.objects.get(reference=paid_order.number)
    assert payment.intent_id in html
    assert "$93.50" in html  # the payment: (2 × 2 × 20.00 + 5.00) × 1.10
    assert "pending_payment" in html  # the created → paid events
    assert reverse("admin:checkout_order_fulfil", args=[paid_order.pk]) in html
    assert reverse("admin:checkout_order_refund", args=[paid_order.pk]) in html
    # Money as money and the address as on an envelope, not raw JSON.
    assert '<div class="readonly">$93.50</div>' in html  # the order's total
    assert "Ada Lovelace<br>1600 Amphitheatre Pkwy<br>Mountain View CA" in html
    assert '"line1"' not in html


def test_admin_order_changelist_filters_by_payment_status(staff_client):
    paid, _unpaid = OrderFactory(paid=True), OrderFactory()
    url = reverse("admin:checkout_order_changelist")

    listed = staff_client.get(url, {"payment": "succeeded"}).context["cl"].result_list

    assert [o.number for o in listed] == [paid.number]


@pytest.mark.localstripe
def test_admin_mark_fulfilled_sets_status_and_emails_tracking(
    staff_client, staff, paid_order, django_capture_on_commit_callbacks
):
    url = reverse("admin:checkout_order_fulfil", args=[paid_order.pk])
    assert staff_client.get(url).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        r = staff_client.post(url, {"carrier": "UPS", "tracking_number": "1Z999AA1"})

    assert r.status_code == 302
    paid_order.refresh_from_db()
    assert paid_order.status == "fulfilled"
    assert paid_order.fulfilled_at is not None
    (message,) = mail.outbox
    assert message.to == [paid_order.email]
    assert "1Z999AA1" in message.body
    assert "UPS" in message.body
    event = OrderEvent.objects.filter(order=paid_order).last()
    assert (event.to_status, event.actor) == ("fulfilled", staff)


def test_admin_mark_fulfilled_without_tracking_number_shows_error(staff_client):
    order = make_order()
    url = reverse("admin:checkout_order_fulfil", args=[order.pk])

    r = staff_client.post(url, {"carrier": "UPS", "tracking_number": ""})

    assert r.status_code == 200
    assert "This field is required." in r.content.decode()
    order.refresh_from_db()
    assert order.status == "paid"


def test_admin_mark_fulfilled_cancelled_order_refused_with_message(staff_client):
    order = make_order(status="cancelled")
    url = reverse("admin:checkout_order_fulfil", args=[order.pk])

    r = staff_client.post(url, {"carrier": "UPS", "tracking_number": "1Z"})

    assert r.status_code == 200
    assert "A cancelled order cannot be shipped." in r.content.decode()
    order.refresh_from_db()
    assert (order.status, order.tracking_number) == ("cancelled", "")


@pytest.mark.localstripe
def test_admin_full_refund_refunds_in_stripe_and_marks_refunded(
    staff_client, paid_order, localstripe
):
    lines = list(paid_order.lines.all())
    stock_before = [_on_hand(line) for line in lines]
    url = reverse("admin:checkout_order_refund", args=[paid_order.pk])
    assert staff_client.get(url).status_code == 200

    r = staff_client.post(url, {f"line_{line.pk}": 0 for line in lines})

    assert r.status_code == 302
    paid_order.refresh_from_db()
    assert paid_order.status == "refunded"
    assert paid_order.refunded_minor == paid_order.total_minor == 9350
    payment = Payment.objects.get(reference=paid_order.number)
    assert payment.amount_refunded_minor == 9350
    assert [r.amount_minor for r in PaymentRefund.objects.filter(payment=payment)] == [
        9350
    ]
    assert [r["amount"] for r in _stripe_refunds(localstripe, paid_order)] == [9350]
    assert [_on_hand(line) for line in lines] == stock_before
    assert not StockMovement.objects.filter(reason="return").exists()


@pytest.mark.localstripe
def test_admin_partial_refund_one_line_with_restock_returns_units(
    staff_client, staff, paid_order, localstripe
):
    first, second = paid_order.lines.all()
    before = _on_hand(first)
    url = reverse("admin:checkout_order_refund", args=[paid_order.pk])

    r = staff_client.post(
        url, {f"line_{first.pk}": 1, f"line_{second.pk}": 0, "restock": "on"}
    )

    assert r.status_code == 302
    paid_order.refresh_from_db()
    # One unit: 20.00 + 10 % tax = 22.00.
    assert paid_order.status == "partially_refunded"
    assert paid_order.refunded_minor == 2200
    assert [r["amount"] for r in _stripe_refunds(localstripe, paid_order)] == [2200]
    assert Payment.objects.get(reference=paid_order.number).amount_refunded_minor == (
        2200
    )
    first.refresh_from_db()
    assert (first.refunded_quantity, first.refunded_minor) == (1, 2200)
    assert _on_hand(first) == before + 1
    movement = StockMovement.objects.get(reason="return")
    assert (movement.variant_id, movement.quantity) == (first.variant_id, 1)
    assert (movement.actor, movement.on_hand_after) == (staff, before + 1)


@pytest.mark.localstripe
def test_admin_partial_refund_without_restock_leaves_stock(
    staff_client, paid_order, localstripe
):
    first, second = paid_order.lines.all()
    before = _on_hand(second)
    url = reverse("admin:checkout_order_refund", args=[paid_order.pk])

    staff_client.post(url, {f"line_{first.pk}": 0, f"line_{second.pk}": 2})

    paid_order.refresh_from_db()
    assert paid_order.status == "partially_refunded"
    assert paid_order.refunded_minor == 4400
    assert _on_hand(second) == before
    assert not StockMovement.objects.filter(reason="return").exists()


@pytest.mark.localstripe
def test_admin_refund_more_than_ordered_shows_error_and_refunds_nothing(
    staff_client, paid_order, localstripe
):
    first, _second = paid_order.lines.all()
    url = reverse("admin:checkout_order_refund", args=[paid_order.pk])

    r = staff_client.post(url, {f"line_{first.pk}": 3})

    assert r.status_code == 200
    assert "Ensure this value is less than or equal to 2." in r.content.decode()
    assert _stripe_refunds(localstripe, paid_order) == []
    paid_order.refresh_from_db()
    assert paid_order.status == "paid"


@pytest.mark.localstripe
def test_admin_resend_confirmation_action_sends_one_more_email(
    staff_client, paid_order, django_capture_on_commit_callbacks
):
    changelist = reverse("admin:checkout_order_changelist")
    chosen = {"action": "resend_confirmation", "_selected_action": [paid_order.pk]}
    ask = staff_client.post(changelist, chosen)
    assert ask.status_code == 200
    assert paid_order.number in ask.content.decode()
    assert mail.outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        r = staff_client.post(changelist, {**chosen, "confirm": "yes"})

    assert r.status_code == 302
    (message,) = mail.outbox
    assert message.to == [paid_order.email]
    assert paid_order.number in message.subject


@pytest.mark.localstripe
def test_admin_failed_workflow_retry_refunds_and_resolves(
    staff_client, paid_order, localstripe, django_capture_on_commit_callbacks
):
    # The state an automatic refund leaves when Stripe was down: the order is
    # cancelled, the payment still captured, the workflow open.
    Order.objects.filter(pk=paid_order.pk).update(status="cancelled")
    workflow = workflow_fail(
        name="order.compensate",
        reference=paid_order.number,
        error="Stripe unavailable",
        attempts=3,
        payload={"reason": "stock sold out"},
    )

    with django_capture_on_commit_callbacks(execute=True):
        r = staff_client.post(
            reverse("admin:core_workflow_changelist"),
            {"action": "retry", "_selected_action": [workflow.pk]},
        )

    assert r.status_code == 302
    workflow.refresh_from_db()
    assert (workflow.status, workflow.attempts) == ("resolved", 4)
    paid_order.refresh_from_db()
    assert paid_order.refunded_minor == paid_order.total_minor
    assert [r["amount"] for r in _stripe_refunds(localstripe, paid_order)] == [
        paid_order.total_minor
    ]
    (apology,) = mail.outbox
    assert "could not fulfil" in apology.subject


# --- custom order views: the order change permission, 404 for unknown ids -----


def _staff_with(*codenames: str):
    from django.contrib.auth.models import Permission

    user = UserFactory(is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="checkout", codename__in=codenames
        )
    )
    return user


@pytest.mark.parametrize("view", ["fulfil", "refund"])
def test_admin_order_action_views_view_only_staff_403_and_nothing_changes(client, view):
    order = make_order()
    client.force_login(_staff_with("view_order"))
    path = reverse(f"admin:checkout_order_{view}", args=[order.pk])

    assert client.get(path).status_code == 403
    posted = {"carrier": "DHL", "tracking_number": "JD0001"}
    assert client.post(path, posted).status_code == 403
    order.refresh_from_db()
    assert (order.status, order.tracking_number) == ("paid", "")


@pytest.mark.parametrize("view", ["fulfil", "refund"])
def test_admin_order_action_views_staff_with_change_permission_200(client, view):
    order = make_order()
    client.force_login(_staff_with("view_order", "change_order"))

    r = client.get(reverse(f"admin:checkout_order_{view}", args=[order.pk]))

    assert r.status_code == 200
    assert order.number in r.content.decode()


@pytest.mark.parametrize("view", ["fulfil", "refund"])
def test_admin_order_action_views_unknown_order_404(staff_client, view):
    r = staff_client.get(reverse(f"admin:checkout_order_{view}", args=[999_999]))
    assert r.status_code == 404


def test_admin_order_fulfil_view_with_change_permission_marks_fulfilled(client):
    order = make_order()
    client.force_login(_staff_with("view_order", "change_order"))

    r = client.post(
        reverse("admin:checkout_order_fulfil", args=[order.pk]),
        {"carrier": "DHL", "tracking_number": "JD0001"},
    )

    assert r.status_code == 302
    order.refresh_from_db()
    assert (order.status, order.tracking_number) == ("fulfilled", "JD0001")


def test_admin_refund_and_retry_actions_need_change_permission(client):
    from django.contrib.auth.models import Permission

    # Rows to act on: an empty changelist shows no actions at all.
    workflow_fail(name="order.compensate", reference=make_order().number, error="x")
    user = _staff_with("view_order")
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="core", codename="view_workflow")
    )
    client.force_login(user)
    orders = client.get(reverse("admin:checkout_order_changelist")).content.decode()
    r = client.get(reverse("admin:core_workflow_changelist"))
    assert r.status_code == 200
    workflows = r.content.decode()
    assert 'value="refund_in_full"' not in orders
    assert 'value="retry"' not in workflows


# --- money records and the back office (issue 11.10, issue 17) --------------


@pytest.mark.parametrize(
    "model_label",
    ["checkout.order", "billing.payment", "core.auditlog"],
)
def test_admin_money_records_cannot_be_deleted(staff_client, model_label):
    app_label, model_name = model_label.split(".")
    changelist = staff_client.get(reverse(f"admin:{app_label}_{model_name}_changelist"))
    assert changelist.status_code == 200
    assert 'value="delete_selected"' not in changelist.content.decode()
    delete_url = reverse(f"admin:{app_label}_{model_name}_delete", args=[1])
    assert staff_client.post(delete_url, {"post": "yes"}).status_code in (403, 404)


def test_admin_order_delete_is_refused_and_order_kept(staff_client):
    order = make_order()
    url = reverse("admin:checkout_order_delete", args=[order.pk])
    assert staff_client.post(url, {"post": "yes"}).status_code == 403
    assert Order.objects.filter(pk=order.pk).exists()


def test_admin_payments_list_shows_money_in_currency_units(staff_client):
    payment = PaymentFactory(amount_minor=123_456, currency="USD")
    page = staff_client.get(reverse("admin:billing_payment_changelist")).content
    assert "$1,234.56" in page.decode() or "$1234.56" in page.decode()
    assert payment.intent_id in page.decode()


@pytest.mark.localstripe
def test_admin_bulk_refund_asks_first_listing_orders_and_amounts(
    staff_client, paid_order, localstripe
):
    changelist = reverse("admin:checkout_order_changelist")
    chosen = {"action": "refund_in_full", "_selected_action": [paid_order.pk]}

    ask = staff_client.post(changelist, chosen)

    page = ask.content.decode()
    assert ask.status_code == 200
    assert paid_order.number in page
    assert "$" + f"{paid_order.total_minor / 100:.2f}" in page
    paid_order.refresh_from_db()
    assert paid_order.refunded_minor == 0

    done = staff_client.post(changelist, {**chosen, "confirm": "yes"}, follow=True)

    paid_order.refresh_from_db()
    assert paid_order.status == "refunded"
    assert paid_order.refunded_minor == paid_order.total_minor
    assert "refunded" in done.content.decode().lower()


@pytest.mark.localstripe
def test_admin_partial_fulfilment_keeps_order_paid_until_every_unit_ships(
    staff_client, paid_order, django_capture_on_commit_callbacks
):
    first, second = paid_order.lines.order_by("pk")
    url = reverse("admin:checkout_order_fulfil", args=[paid_order.pk])
    with django_capture_on_commit_callbacks(execute=True):
        r = staff_client.post(
            url,
            {
                "carrier": "UPS",
                "tracking_number": "1Z-FIRST",
                f"line_{first.pk}": first.quantity,
                f"line_{second.pk}": 0,
            },
        )
    assert r.status_code == 302
    paid_order.refresh_from_db()
    assert paid_order.status == "paid"
    assert paid_order.tracking_number == "1Z-FIRST"
    assert any("1Z-FIRST" in m.body for m in mail.outbox)

    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(url, {"carrier": "UPS", "tracking_number": "1Z-SECOND"})
    paid_order.refresh_from_db()
    assert paid_order.status == "fulfilled"
    assert paid_order.fulfilments.count() == 2


def test_admin_order_note_is_kept_with_author_and_shown(staff_client, staff):
    order = make_order()
    url = reverse("admin:checkout_order_note_add", args=[order.pk])
    r = staff_client.post(url, {"body": "Customer called about the colour."})
    assert r.status_code == 302
    note = order.notes.get()
    assert (note.body, note.author) == ("Customer called about the colour.", staff)
    page = staff_client.get(reverse("admin:checkout_order_change", args=[order.pk]))
    assert "Customer called about the colour." in page.content.decode()


def test_admin_invoice_and_packing_slip_are_pdfs(staff_client):
    order = make_order()
    for name in ("checkout_order_invoice", "checkout_order_packing_slip"):
        r = staff_client.get(reverse(f"admin:{name}", args=[order.pk]))
        assert r.status_code == 200
        assert r["Content-Type"] == "application/pdf"
        assert r.content.startswith(b"%PDF")
        assert order.number in r["Content-Disposition"]


def test_admin_orders_csv_export_lists_the_filtered_orders(staff_client):
    kept = make_order(status="paid")
    other = make_order(status="cancelled")
    r = staff_client.get(
        reverse("admin:checkout_order_export_csv") + "?status__exact=paid"
    )
    body = r.content.decode()
    assert r.status_code == 200
    assert kept.number in body
    assert other.number not in body
