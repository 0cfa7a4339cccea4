import re

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse_lazy

from apps.inventory.models import (
    BackInStockSubscription,
    Category,
    Product,
    ProductType,
    StockItem,
    StockMovement,
    Variant,
)
from apps.inventory.services import (
    ReservationRequest,
    back_in_stock_subscribe,
    stock_adjust,
    stock_reserve,
)
from tests.conftest import admin_change_form_data
from tests.inventory.factories import (
    BackInStockSubscriptionFactory,
    CategoryFactory,
    ProductFactory,
    ProductTypeFactory,
    VariantFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_superuser(
        email="staff@example.com", password="pw"
    )


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def _rows(n):
    from datetime import timedelta

    category = CategoryFactory(parent=CategoryFactory())
    for i in range(n):
        variant = VariantFactory(product=ProductFactory(category=category), stock=i)
        stock_adjust(variant_id=variant.pk, quantity_delta=1, reason="receive")
        stock_reserve(
            items=[ReservationRequest(variant.pk, 1)],
            ref=f"r{i}",
            ttl=timedelta(minutes=5),
        )
        BackInStockSubscriptionFactory(variant=variant)


CHANGELISTS = [
    "/admin/inventory/category/",
    "/admin/inventory/product/",
    "/admin/inventory/product/?stock=low",
    "/admin/inventory/variant/",
    "/admin/inventory/variant/?stock=out",
    "/admin/inventory/stockitem/",
    "/admin/inventory/reservation/",
    "/admin/inventory/stockmovement/",
    "/admin/inventory/backinstocksubscription/",
]


@pytest.mark.parametrize("url", CHANGELISTS)
def test_admin_changelist_query_count_does_not_grow_with_rows(staff_client, url):
    _rows(1)
    with CaptureQueriesContext(connection) as one:
        assert staff_client.get(url).status_code == 200
    _rows(6)
    with CaptureQueriesContext(connection) as seven:
        response = staff_client.get(url)

    assert response.status_code == 200
    assert len(seven) == len(one), [q["sql"] for q in seven.captured_queries]


def test_admin_product_change_page_with_variants_loads(staff_client):
    product = ProductFactory()
    for _ in range(3):
        VariantFactory(product=product, stock=2)

    response = staff_client.get(f"/admin/inventory/product/{product.pk}/change/")

    assert response.status_code == 200
    assert response.content.count(b"adjust-stock/") == 3


def test_admin_low_stock_filter_lists_only_low_products(staff_client):
    VariantFactory(product__title="Nearly Gone", stock=2)
    VariantFactory(product__title="Warehouse Full", stock=200)

    html = staff_client.get("/admin/inventory/product/?stock=low").content.decode()

    assert "Nearly Gone" in html
    assert "Warehouse Full" not in html


def test_admin_adjust_stock_requires_reason(staff_client):
    variant = VariantFactory(stock=1)

    response = staff_client.post(
        f"/admin/inventory/variant/{variant.pk}/adjust-stock/",
        {"quantity_delta": "5", "reason": "", "reference": ""},
    )

    assert response.status_code == 200
    assert b"This field is required." in response.content
    assert StockItem.objects.get(variant=variant).on_hand == 1
    assert not StockMovement.objects.exists()


def test_admin_adjust_stock_below_zero_shows_error(staff_client):
    variant = VariantFactory(stock=1)

    response = staff_client.post(
        f"/admin/inventory/variant/{variant.pk}/adjust-stock/",
        {"quantity_delta": "-2", "reason": "adjustment"},
    )

    assert b"Only 1 on hand; cannot remove 2." in response.content
    assert StockItem.objects.get(variant=variant).on_hand == 1


def test_admin_adjust_stock_writes_movement_with_actor(staff_client, staff):
    variant = VariantFactory(stock=1)

    response = staff_client.post(
        f"/admin/inventory/variant/{variant.pk}/adjust-stock/",
        {"quantity_delta": "-1", "reason": "adjustment", "reference": "count 12"},
    )

    assert response.status_code == 302
    movement = StockMovement.objects.get()
    assert (movement.quantity, movement.reason, movement.actor, movement.reference) == (
        -1,
        "adjustment",
        staff,
        "count 12",
    )
    assert StockItem.objects.get(variant=variant).on_hand == 0


def test_admin_receive_twice_emails_three_subscribers_once_each(
    staff_client, django_capture_on_commit_callbacks
):
    variant = VariantFactory(stock=0, product__title="Field Jacket")
    for email in ["ann@example.com", "bo@example.com", "cy@example.com"]:
        back_in_stock_subscribe(variant_id=variant.pk, email=email)
    url = f"/admin/inventory/variant/{variant.pk}/adjust-stock/"
    receive = {"quantity_delta": "10", "reason": "receive", "reference": "PO-1"}

    with django_capture_on_commit_callbacks(execute=True):
        first = staff_client.post(url, receive)
    with django_capture_on_commit_callbacks(execute=True):
        second = staff_client.post(url, receive)

    assert first.status_code == second.status_code == 302
    assert StockItem.objects.get(variant=variant).on_hand == 20
    assert sorted(m.to[0] for m in mail.outbox) == [
        "ann@example.com",
        "bo@example.com",
        "cy@example.com",
    ]
    assert all("Field Jacket is back in stock" in m.subject for m in mail.outbox)
    assert BackInStockSubscription.objects.filter(sent_at__isnull=False).count() == 3


def test_admin_adjust_stock_action_redirects_to_form(staff_client):
    variant = VariantFactory(stock=1)

    response = staff_client.post(
        "/admin/inventory/variant/",
        {"action": "adjust_stock_action", "_selected_action": [variant.pk]},
    )

    assert response.status_code == 302
    assert response["Location"].endswith(f"/{variant.pk}/adjust-stock/")


# --- prices typed in major units ------------------------------------------------


def _variant_change(staff_client, variant, **changes):
    url = f"/admin/inventory/variant/{variant.pk}/change/"
    data = admin_change_form_data(staff_client.get(url))
    return staff_client.post(url, {**data, **changes})


def test_admin_variant_change_page_shows_price_as_decimal(staff_client):
    variant = VariantFactory(price_minor=1999, compare_at_price_minor=2500)

    response = staff_client.get(f"/admin/inventory/variant/{variant.pk}/change/")

    html = response.content.decode()
    assert 'name="price_minor" value="19.99"' in html
    assert 'name="compare_at_price_minor" value="25.00"' in html
    assert "Price (in the variant&#x27;s currency)" in html


def test_admin_variant_post_decimal_price_saves_minor_units(staff_client):
    variant = VariantFactory(price_minor=100)

    response = _variant_change(
        staff_client, variant, price_minor="19.99", compare_at_price_minor="24.5"
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    variant.refresh_from_db()
    assert (variant.price_minor, variant.compare_at_price_minor) == (1999, 2450)


def test_admin_variant_post_jpy_whole_price_saves_it_unscaled(staff_client):
    variant = VariantFactory(price_minor=100)

    response = _variant_change(
        staff_client, variant, currency="JPY", price_minor="1200"
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    variant.refresh_from_db()
    assert (variant.price_minor, variant.currency) == (1200, "JPY")


@pytest.mark.parametrize(
    ("currency", "typed", "message"),
    [
        ("USD", "19.999", "USD has 2 decimal places: 19.999 has more."),
        ("JPY", "12.5", "JPY has no decimal places"),
        ("USD", "-1", "Enter an amount of zero or more."),
        ("USD", "19,99", "Enter an amount as a plain number"),
    ],
)
def test_admin_variant_post_bad_price_shows_field_error_and_saves_nothing(
    staff_client, currency, typed, message
):
    variant = VariantFactory(price_minor=1999, currency="USD", title="Before")

    response = _variant_change(
        staff_client, variant, currency=currency, price_minor=typed, title="After"
    )

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert list(form.errors) == ["price_minor"]
    assert message in form.errors["price_minor"][0]
    variant.refresh_from_db()
    assert (variant.price_minor, variant.currency, variant.title) == (
        1999,
        "USD",
        "Before",
    )


def test_admin_variant_compare_at_not_above_price_is_an_error(staff_client):
    variant = VariantFactory(price_minor=1999)

    response = _variant_change(
        staff_client, variant, price_minor="19.99", compare_at_price_minor="19.99"
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["compare_at_price_minor"] == ["The compare-at price must be higher."]


def _product_change(staff_client, product, **changes):
    url = f"/admin/inventory/product/{product.pk}/change/"
    data = admin_change_form_data(staff_client.get(url))
    return staff_client.post(url, {**data, **changes})


def test_admin_product_page_shows_variant_prices_as_decimals(staff_client):
    product = ProductFactory()
    VariantFactory(product=product, price_minor=1999, currency="USD")
    VariantFactory(product=product, price_minor=1200, currency="JPY")

    html = staff_client.get(f"/admin/inventory/product/{product.pk}/change/")

    content = html.content.decode()
    assert 'name="variants-0-price_minor" value="19.99"' in content
    assert 'name="variants-1-price_minor" value="1200"' in content
    assert "Price (in the variant&#x27;s currency)" in content


def test_admin_product_inline_prices_in_each_rows_currency(staff_client):
    product = ProductFactory()
    usd = VariantFactory(product=product, price_minor=100, currency="USD")
    jpy = VariantFactory(product=product, price_minor=100, currency="JPY")

    response = _product_change(
        staff_client,
        product,
        **{"variants-0-price_minor": "19.99", "variants-1-price_minor": "1200"},
    )

    assert response.status_code == 302
    usd.refresh_from_db()
    jpy.refresh_from_db()
    assert (usd.price_minor, jpy.price_minor) == (1999, 1200)


def test_admin_product_inline_bad_price_errors_on_that_row_only(staff_client):
    product = ProductFactory()
    usd = VariantFactory(product=product, price_minor=100, currency="USD")
    jpy = VariantFactory(product=product, price_minor=100, currency="JPY")

    response = _product_change(
        staff_client,
        product,
        **{"variants-0-price_minor": "19.99", "variants-1-price_minor": "12.5"},
    )

    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert formset.errors[0] == {}
    assert "JPY has no decimal places" in formset.errors[1]["price_minor"][0]
    assert "JPY has no decimal places" in response.content.decode()
    usd.refresh_from_db()
    jpy.refresh_from_db()
    assert (usd.price_minor, jpy.price_minor) == (100, 100)


def test_admin_product_inline_new_variant_in_decimal_price(staff_client):
    product = ProductFactory()
    VariantFactory(product=product)
    url = f"/admin/inventory/product/{product.pk}/change/"
    data = admin_change_form_data(staff_client.get(url))
    new_row = {
        "variants-1-product": str(product.pk),
        "variants-1-sku": "NEW-1",
        "variants-1-option_values": "{}",
        "variants-1-price_minor": "5.50",
        "variants-1-currency": "EUR",
        "variants-1-weight_grams": "0",
        "variants-1-track_stock": "on",
        "variants-1-is_active": "on",
        "variants-1-position": "0",
    }

    response = staff_client.post(url, {**data, **new_row, "variants-TOTAL_FORMS": "2"})

    assert response.status_code == 302
    assert Variant.objects.get(sku="NEW-1").price_minor == 550


# --- CSV import / export -------------------------------------------------------

HEADER = (
    "sku,product_slug,product_title,category,title,option_values,price_minor,"
    "currency,compare_at_price_minor,weight_grams,track_stock,allow_backorder,"
    "backorder_lead_days,expected_ship_date,max_per_order,is_active,on_hand\n"
)


def _csv(*rows):
    return SimpleUploadedFile(
        "catalogue.csv", (HEADER + "".join(rows)).encode(), content_type="text/csv"
    )


GOOD_ROWS = (
    'TEE-S,basic-tee,Basic Tee,shirts,Small,"{""size"": ""S""}",'
    "1500,USD,,180,1,0,,,,1,12\n",
    'TEE-M,basic-tee,Basic Tee,shirts,Medium,"{""size"": ""M""}",'
    "1500,USD,,190,1,0,,,,1,7\n",
)


def test_admin_import_dry_run_reports_bad_rows_and_writes_nothing(staff_client):
    CategoryFactory(slug="shirts")
    upload = _csv(
        GOOD_ROWS[0],
        "MUG-1,mug,Mug,no-such-category,,,900,USD,,300,1,0,,,,1,5\n",
        "CAP-1,cap,Cap,shirts,,,-100,USD,,100,1,0,,,,1,5\n",
    )

    response = staff_client.post(
        "/admin/inventory/variant/import/",
        {"import_file": upload, "format": "0", "resource": "0"},
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "Unknown category “no-such-category”." in html
    assert "Ensure this value is greater than or equal to 0." in html
    # Each error is reported against its own row (file row 2 is MUG-1, 3 is CAP-1).
    text = " ".join(re.sub(r"<[^>]+>", " ", html).split())
    assert "2 1 category Unknown category “no-such-category”. MUG-1" in text
    assert "3 1 price_minor Ensure this value is greater than or equal to 0. CAP-1" in (
        text
    )
    assert "Confirm import" not in html
    assert not Variant.objects.exists()
    assert not Product.objects.exists()
    assert not StockMovement.objects.exists()


def test_admin_import_good_file_creates_variants_and_movements(staff_client, staff):
    CategoryFactory(slug="shirts")

    dry = staff_client.post(
        "/admin/inventory/variant/import/",
        {"import_file": _csv(*GOOD_ROWS), "format": "0", "resource": "0"},
    )
    assert b"Confirm import" in dry.content
    assert not Variant.objects.exists()
    confirm = dry.context["confirm_form"]
    response = staff_client.post(
        "/admin/inventory/variant/process_import/",
        {**confirm.initial, "resource": confirm.initial.get("resource") or "0"},
    )

    assert response.status_code == 302
    product = Product.objects.get(slug="basic-tee")
    assert product.category == Category.objects.get(slug="shirts")
    assert sorted(product.variants.values_list("sku", "option_values")) == [
        ("TEE-M", {"size": "M"}),
        ("TEE-S", {"size": "S"}),
    ]
    movements = StockMovement.objects.order_by("variant__sku")
    assert [(m.variant.sku, m.quantity, m.reason, m.actor) for m in movements] == [
        ("TEE-M", 7, "import", staff),
        ("TEE-S", 12, "import", staff),
    ]


def test_variant_resource_reimport_sets_stock_to_file_value():
    from import_export.formats.base_formats import CSV

    from apps.inventory.resources import VariantResource

    CategoryFactory(slug="shirts")
    dataset = CSV().create_dataset(HEADER + "".join(GOOD_ROWS))
    VariantResource().import_data(dataset, dry_run=False, raise_errors=True)
    changed = CSV().create_dataset(
        HEADER + GOOD_ROWS[0].replace(",1,12\n", ",1,20\n") + GOOD_ROWS[1]
    )

    result = VariantResource().import_data(changed, dry_run=False)

    assert not result.has_errors()
    assert not result.has_validation_errors()
    assert StockItem.objects.get(variant__sku="TEE-S").on_hand == 20
    assert StockItem.objects.get(variant__sku="TEE-M").on_hand == 7
    assert StockMovement.objects.filter(variant__sku="TEE-S").count() == 2


EXPORT_FIELDS = HEADER.strip().split(",")


def test_admin_export_csv_lists_variants_with_stock(staff_client):
    VariantFactory(sku="EXP-1", product__slug="exported", stock=9)

    response = staff_client.post(
        "/admin/inventory/variant/export/",
        {
            "format": "0",
            "resource": "0",
            **{f"variantresource_{name}": "on" for name in EXPORT_FIELDS},
        },
    )

    assert response.status_code == 200
    body = response.content.decode()
    assert body.splitlines()[0].startswith("sku,product_slug,product_title,category")
    assert "EXP-1,exported," in body
    assert body.splitlines()[1].endswith(",9")


# --- product types and the variant generator -----------------------------------


def test_admin_product_type_options_typed_as_comma_separated_values(staff_client):
    url = reverse_lazy("admin:inventory_producttype_add")
    data = admin_change_form_data(staff_client.get(url))

    response = staff_client.post(
        url,
        {
            **data,
            "name": "T-shirt",
            "options-0-name": " Size ",
            "options-0-values": "S, M, L, m,",
            "options-0-position": "0",
        },
    )

    assert response.status_code == 302
    option = ProductType.objects.get(name="T-shirt").options.get()
    assert (option.name, option.values) == ("size", ["S", "M", "L"])


@pytest.fixture
def typed_product():
    tees = ProductTypeFactory(
        options={"size": ["S", "M", "L"], "colour": ["Black", "White"]}
    )
    product = ProductFactory(title="Pocket Tee", slug="pocket-tee", product_type=tees)
    VariantFactory(
        product=product,
        sku="TEE-M-BLACK",
        option_values={"size": "M", "colour": "Black"},
        price_minor=2500,
        currency="EUR",
    )
    return product


def _generator_url(product):
    return reverse_lazy("admin:inventory_product_generate_variants", args=[product.pk])


def test_admin_variant_generator_preview_writes_nothing(staff_client, typed_product):
    response = staff_client.get(_generator_url(typed_product))

    content = response.content.decode()
    assert response.status_code == 200
    assert "5 new variants of 6" in content
    assert 'name="price_minor" value="25.00"' in content
    assert typed_product.variants.count() == 1


def test_admin_variant_generator_post_creates_the_rest_once(
    staff_client, typed_product
):
    url = _generator_url(typed_product)

    response = staff_client.post(url, {"price_minor": "19.99", "currency": "eur"})

    assert response.status_code == 302
    assert typed_product.variants.count() == 6
    new = typed_product.variants.exclude(sku="TEE-M-BLACK")
    assert set(new.values_list("price_minor", "currency")) == {(1999, "EUR")}
    staff_client.post(url, {"price_minor": "19.99", "currency": "EUR"})
    assert typed_product.variants.count() == 6


def test_admin_variant_generator_bad_price_is_a_form_error(staff_client, typed_product):
    response = staff_client.post(
        _generator_url(typed_product), {"price_minor": "19.999", "currency": "EUR"}
    )

    assert response.status_code == 200
    assert "EUR has 2 decimal places" in response.content.decode()
    assert typed_product.variants.count() == 1


def test_admin_variant_generator_without_type_sends_back_with_message(staff_client):
    product = ProductFactory()

    response = staff_client.get(_generator_url(product), follow=True)

    assert "Choose a product type before generating variants." in (
        response.content.decode()
    )


def test_admin_product_page_edits_variant_options_as_fields(
    staff_client, typed_product
):
    url = f"/admin/inventory/product/{typed_product.pk}/change/"
    page = staff_client.get(url)
    content = page.content.decode()
    assert 'name="variants-0-option_size" value="M"' in content
    assert "option_values" not in content
    assert "Generate variants" in content

    response = staff_client.post(
        url, {**admin_change_form_data(page), "variants-0-option_size": "L"}
    )

    assert response.status_code == 302
    variant = typed_product.variants.get()
    assert variant.option_values == {"size": "L", "colour": "Black"}


def test_admin_variant_page_edits_options_as_fields(staff_client, typed_product):
    variant = typed_product.variants.get()
    url = f"/admin/inventory/variant/{variant.pk}/change/"
    page = staff_client.get(url)
    assert 'name="option_colour" value="Black"' in page.content.decode()

    response = staff_client.post(
        url, {**admin_change_form_data(page), "option_colour": "White"}
    )

    assert response.status_code == 302
    variant.refresh_from_db()
    assert variant.option_values == {"size": "M", "colour": "White"}
