import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.carts.models import Cart, CartLine
from apps.inventory.services import stock_set
from tests.accounts.factories import PASSWORD, UserFactory
from tests.carts.factories import CartCouponFactory, CartFactory, CartLineFactory
from tests.carts.test_api import COUPON_ERRORS, _coupon_case
from tests.coupons.factories import CouponFactory
from tests.inventory.factories import VariantFactory

pytestmark = pytest.mark.django_db


def _count(response) -> str:
    return (
        re.search(rb'data-testid="cart-count">(\d+)<', response.content)
        .group(1)
        .decode()
    )


def test_cart_page_empty_renders(client):
    response = client.get("/cart/")
    assert response.status_code == 200
    assert b"Your cart is empty" in response.content


def test_cart_add_from_product_form_redirects_and_shows_line(client):
    variant = VariantFactory(stock=5, price_minor=1500)
    response = client.post("/cart/add/", {"sku": variant.sku, "quantity": 2})
    assert response.status_code == 302
    assert response["Location"] == "/cart/"
    page = client.get("/cart/")
    assert variant.sku.encode() in page.content
    assert b"$30.00" in page.content
    assert b"Calculated at checkout" in page.content
    assert _count(page) == "2"


def test_cart_add_too_many_redirects_back_with_message(client):
    variant = VariantFactory(stock=1)
    response = client.post(
        "/cart/add/",
        {"sku": variant.sku, "quantity": 3},
        HTTP_REFERER=f"http://testserver/products/{variant.product.slug}/",
        follow=True,
    )
    assert f"Only 1 of {variant.product.title} available.".encode() in response.content
    assert not CartLine.objects.exists()


def test_cart_add_error_names_product_and_options_and_keeps_choices(client):
    variant = VariantFactory(
        product__title="Pocket Tee",
        option_values={"colour": "Navy", "size": "M"},
        stock=1,
    )
    VariantFactory(product=variant.product, option_values={"size": "L"}, stock=5)

    response = client.post("/cart/add/", {"sku": variant.sku, "quantity": 3})

    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "Only 1 of Pocket Tee — Navy, M available." in page
    assert variant.sku not in page.split('class="messages"')[1].split("</ul>")[0]
    chosen = page.split(f'value="{variant.sku}"')[1].split(">")[0]
    assert "checked" in chosen
    assert 'name="quantity"' in page
    assert 'value="3"' in page.split('id="id_quantity"')[1].split(">")[0]


def test_cart_line_update_and_remove_through_page(client):
    variant = VariantFactory(stock=10, price_minor=100)
    client.post("/cart/add/", {"sku": variant.sku, "quantity": 1})
    line = CartLine.objects.get()
    response = client.post(f"/cart/lines/{line.pk}/", {"quantity": 4})
    assert response.status_code == 302
    line.refresh_from_db()
    assert line.quantity == 4
    client.post(f"/cart/lines/{line.pk}/remove/")
    assert not CartLine.objects.exists()


def test_cart_line_update_above_stock_shows_error_next_to_quantity(client):
    variant = VariantFactory(stock=3)
    client.post("/cart/add/", {"sku": variant.sku, "quantity": 1})
    line = CartLine.objects.get()
    response = client.post(f"/cart/lines/{line.pk}/", {"quantity": 9})
    assert response.status_code == 400
    html = response.content.decode()
    form = html[html.index(f'action="/cart/lines/{line.pk}/"') :]
    form = form[: form.index("</form>")]
    assert f"Only 3 of {variant.sku} available." in form


def test_cart_page_totals_breakdown_lists_each_discount_with_code(client):
    variant = VariantFactory(stock=10, price_minor=5000)
    client.post("/cart/add/", {"sku": variant.sku, "quantity": 2})
    CouponFactory(code="TEN", value=1000)
    response = client.post("/cart/coupons/", {"code": "ten"}, follow=True)
    html = response.content.decode()
    assert 'data-discount="TEN">−$10.00' in html
    assert 'data-total="subtotal">$100.00' in html
    assert 'data-total="total">$90.00' in html
    assert 'data-total="tax">Calculated at checkout' in html


@pytest.mark.parametrize("error_code", COUPON_ERRORS)
def test_cart_coupon_form_refusal_shown_next_to_field(
    client, error_code, reset_order_count_provider
):
    user = UserFactory()
    client.force_login(user)
    cart = CartFactory(user=user)
    CartLineFactory(cart=cart, variant=VariantFactory(stock=5, price_minor=1000))
    code = _coupon_case(error_code, cart, user)
    response = client.post("/cart/coupons/", {"code": code})
    assert response.status_code == 400
    html = response.content.decode()
    errors = html[html.index('id="coupon-errors"') :]
    errors = errors[: errors.index("</div>")]
    assert f'data-code="{error_code}"' in errors
    assert 'class="errorlist"' in errors


def test_cart_coupon_form_blank_code_shows_required_error(client):
    response = client.post("/cart/coupons/", {"code": ""})
    assert response.status_code == 400
    assert b"This field is required." in response.content


def test_cart_coupon_page_guessing_throttled_429(client, settings):
    settings.COUPON_APPLY_RATE = "2/m"
    statuses = [
        client.post("/cart/coupons/", {"code": f"G{i}"}).status_code for i in range(3)
    ]
    assert statuses == [400, 400, 429]
    refused = client.post("/cart/coupons/", {"code": "G9"})
    assert 1 <= int(refused["Retry-After"]) <= 60  # time left in the window
    assert b"Too many attempts. Please wait a minute" in refused.content


def _page_cart(client, lines: int, coupons: int):
    user = UserFactory()
    client.force_login(user)
    cart = CartFactory(user=user)
    for _ in range(lines):
        CartLineFactory(cart=cart)
    for i in range(coupons):
        CartCouponFactory(cart=cart, coupon=CouponFactory(fixed=True, value=10 + i))
    return cart


@pytest.mark.parametrize("coupons", [0, 2])
def test_cart_page_query_count_same_for_1_and_25_lines(
    client, django_assert_num_queries, coupons
):
    from apps.coupons.models import StackingSettings

    StackingSettings.objects.create(pk=1, max_coupons_per_order=5)
    counts = []
    for lines in (1, 25):
        _page_cart(client, lines, coupons)
        client.get("/cart/")  # warm the session
        with CaptureQueriesContext(connection) as ctx:
            response = client.get("/cart/")
        assert response.status_code == 200
        assert _count(response) == str(lines)
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]
    with django_assert_num_queries(counts[1]):
        client.get("/cart/")


def test_header_cart_count_costs_one_query(client, django_assert_num_queries):
    user = UserFactory()
    client.force_login(user)
    CartLineFactory(cart=CartFactory(user=user), quantity=3)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/")
    assert _count(response) == "3"
    cart_queries = [q for q in ctx.captured_queries if "carts_cartline" in q["sql"]]
    assert len(cart_queries) == 1


# --- merge on login through the page ---------------------------------------------


def test_login_page_merges_guest_cart_with_capped_notice(client):
    user = UserFactory(verified_email=True)
    variant = VariantFactory(stock=4, price_minor=1000)
    other = VariantFactory(stock=10, price_minor=250)
    mine = CartFactory(user=user)
    CartLineFactory(cart=mine, variant=variant, quantity=3)

    client.post("/cart/add/", {"sku": variant.sku, "quantity": 3})
    client.post("/cart/add/", {"sku": other.sku, "quantity": 2})
    guest_id = client.session["cart_id"]

    response = client.post(
        "/accounts/login/", {"login": user.email, "password": PASSWORD}, follow=True
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert f"{variant.sku}: you asked for 6, we could keep 4." in html

    quantities = dict(
        CartLine.objects.filter(cart=mine).values_list("variant__sku", "quantity")
    )
    assert quantities == {variant.sku: 4, other.sku: 2}
    assert not Cart.objects.filter(pk=guest_id).exists()
    page = client.get("/cart/")
    assert _count(page) == "6"
    assert "cart_id" not in client.session


def test_cart_coupon_form_minimum_not_met_shows_amounts_as_money(client):
    variant = VariantFactory(stock=5, price_minor=1000)
    client.post("/cart/add/", {"sku": variant.sku, "quantity": 1})
    CouponFactory(code="BIGSPEND", minimum_subtotal_minor=10_000)

    response = client.post("/cart/coupons/", {"code": "bigspend"})

    assert response.status_code == 400
    html = response.content.decode()
    errors = html[html.index('id="coupon-errors"') :]
    errors = errors[: errors.index("</div>")]
    assert "Spend at least $100.00 to use coupon BIGSPEND; add $90.00 more." in errors
    assert "minor units" not in html


def _line_row(response, sku: str) -> str:
    html = response.content.decode()
    match = re.search(
        rf'<tr data-sku="{re.escape(sku)}" class="cart-line">.*?</tr>', html, re.S
    )
    assert match, f"no cart line for {sku}"
    return match.group(0)


def test_cart_page_changed_price_and_reduced_stock_show_notice_on_line(client):
    changed = VariantFactory(stock=10, price_minor=1000)
    steady = VariantFactory(stock=10, price_minor=300)
    client.post("/cart/add/", {"sku": changed.sku, "quantity": 4})
    client.post("/cart/add/", {"sku": steady.sku, "quantity": 1})
    changed.price_minor = 800
    changed.save(update_fields=["price_minor"])
    stock_set(variant_id=changed.pk, on_hand=3, reason="adjustment")

    response = client.get("/cart/")

    assert response.status_code == 200
    row = _line_row(response, changed.sku)
    assert (
        "The price went down since you added this item. (was $10.00, now $8.00)" in row
    )
    assert "Only 3 left; lower the quantity to continue." in row
    assert 'value="4"' in row  # the quantity the shopper chose, not lowered
    assert "$32.00" in row
    other = _line_row(response, steady.sku)
    assert "line-notices" not in other
    assert "since you added" not in other


def _page_add_queries(client, sku) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.post("/cart/add/", {"sku": sku, "quantity": 1})
    assert response.status_code == 302
    assert response["Location"] == "/cart/"
    return len(ctx.captured_queries)


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "signed-in"])
def test_cart_add_page_at_most_20_queries_same_for_1_and_5_lines(
    client, django_assert_max_num_queries, signed_in
):
    counts = []
    for lines in (1, 5):
        client.logout()
        cart = CartFactory()
        for _ in range(lines):
            CartLineFactory(cart=cart)
        if signed_in:
            user = UserFactory()
            Cart.objects.filter(pk=cart.pk).update(user=user)
            client.force_login(user)
        else:
            session = client.session
            session["cart_id"] = str(cart.pk)
            session.save()
        counts.append(_page_add_queries(client, VariantFactory(stock=10).sku))
        assert cart.lines.count() == lines + 1
    assert counts[0] == counts[1]
    merged = CartLineFactory(cart=cart).variant
    with django_assert_max_num_queries(20):
        _page_add_queries(client, merged.sku)
    assert cart.lines.get(variant=merged).quantity == 2
