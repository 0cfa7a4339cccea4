"""Checkout pages: every step renders with its progress indicator, bad input is
shown next to the field, illegal steps redirect, pages' query counts do not
grow with the cart, and a shopper's pages answer 404 to everyone else."""

import re
import uuid

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.checkout import services
from apps.checkout.models import Checkout, Order, OrderLine
from apps.checkout.services.orders import order_public_path
from apps.inventory.models import StockItem
from tests.accounts.factories import PASSWORD, UserFactory
from tests.checkout.conftest import ADDRESS

pytestmark = pytest.mark.django_db

STEP_URLS = {
    "email": "Email",
    "shipping-address": "Shipping address",
    "billing-address": "Billing address",
    "shipping-method": "Delivery",
    "payment": "Review & pay",
}


def current_step(html: str) -> str | None:
    """The label of the step the progress indicator marks as current."""
    match = re.search(
        r'aria-current="step">\s*<span>([^<]+)</span>', html, flags=re.DOTALL
    )
    return match.group(1).replace("&amp;", "&") if match else None


def field_errors(html: str, field: str) -> list[str]:
    """The error messages rendered inside one field's wrapper."""
    block = re.search(
        rf'<div class="field has-error"\s+id="field-{field}">(.*?)</div>',
        html,
        flags=re.DOTALL,
    )
    if block is None:
        return []
    return re.findall(r'class="field-error"[^>]*>([^<]+)<', block.group(1))


def url(checkout, step: str) -> str:
    return f"/checkout/{checkout.pk}/{step}/"


def guest_session(client, cart) -> None:
    session = client.session
    session["cart_id"] = str(cart.pk)
    session.save()


def checkout_at(cart, step: str, *, method=None, user=None) -> Checkout:
    """A checkout driven through the services up to ``step``."""
    checkout, _ = services.checkout_start(cart=cart, user=user)
    if step == "email":
        return checkout
    checkout = services.checkout_set_email(checkout=checkout, email="g@example.com")
    if step == "shipping-address":
        return checkout
    checkout = services.checkout_set_shipping_address(
        checkout=checkout, address=ADDRESS
    )
    if step in ("billing-address", "shipping-method"):
        return checkout
    return services.checkout_set_shipping_method(checkout=checkout, method_id=method.pk)


def make_order(*, user=None, email="g@example.com", status="paid", lines=1) -> Order:
    """A placed order as the services leave it (rows only, no Stripe)."""
    order = Order.objects.create(
        number=services.orders.order_number_new(),
        user=user,
        email=email,
        status=status,
        currency="USD",
        subtotal_minor=1000 * lines,
        total_minor=1000 * lines,
        shipping_method_name="Standard",
    )
    OrderLine.objects.bulk_create(
        [
            OrderLine(
                order=order,
                sku=f"SKU-{order.number}-{i}",
                title=f"Mug {i}",
                quantity=1,
                unit_price_minor=1000,
                subtotal_minor=1000,
                total_minor=1000,
            )
            for i in range(lines)
        ]
    )
    return order


# --- every step renders, with the current step marked ---------------------------


@pytest.mark.parametrize("step", ["email", "shipping-address", "shipping-method"])
def test_checkout_step_get_renders_with_current_step_marked(
    client, make_cart, shipping_method, step
):
    cart = make_cart()
    guest_session(client, cart)
    checkout = checkout_at(cart, step)

    r = client.get(url(checkout, step))

    assert r.status_code == 200
    html = r.content.decode()
    assert 'class="checkout-progress"' in html
    assert current_step(html) == STEP_URLS[step]
    assert 'data-total="total"' in html


def test_checkout_billing_step_get_renders_same_as_shipping_option(
    client, make_cart, shipping_method
):
    cart = make_cart()
    checkout = checkout_at(cart, "billing-address")

    r = client.get(url(checkout, "billing-address"))

    assert r.status_code == 200
    html = r.content.decode()
    assert current_step(html) == "Billing address"
    assert 'name="same_as_shipping"' in html


def test_checkout_start_guest_cart_redirects_to_email_step(client, make_cart):
    cart = make_cart()
    guest_session(client, cart)

    r = client.post("/checkout/")

    checkout = Checkout.objects.get(cart=cart)
    assert r.status_code == 302
    assert r["Location"] == url(checkout, "email")


def test_checkout_start_without_cart_redirects_to_cart_with_message(client):
    r = client.post("/checkout/", follow=True)

    assert r.redirect_chain[-1][0] == "/cart/"
    assert "Your cart is empty." in r.content.decode()


def test_checkout_email_post_invalid_rerenders_with_error_next_to_field(
    client, make_cart
):
    cart = make_cart()
    checkout = checkout_at(cart, "email")

    r = client.post(url(checkout, "email"), {"email": "not-an-email"})

    assert r.status_code == 400
    assert field_errors(r.content.decode(), "email") == ["Enter a valid email address."]
    checkout.refresh_from_db()
    assert checkout.email == ""


def test_checkout_email_post_valid_redirects_to_shipping_address(client, make_cart):
    cart = make_cart()
    checkout = checkout_at(cart, "email")

    r = client.post(
        url(checkout, "email"),
        {"email": "Shopper@Example.com", "marketing_consent": ""},
    )

    assert r.status_code == 302
    assert r["Location"] == url(checkout, "shipping-address")
    checkout.refresh_from_db()
    assert (checkout.email, checkout.marketing_consent) == (
        "shopper@example.com",
        False,
    )


def test_checkout_shipping_address_post_bad_us_postal_code_error_next_to_field(
    client, make_cart
):
    cart = make_cart()
    checkout = checkout_at(cart, "shipping-address")

    r = client.post(
        url(checkout, "shipping-address"), {**ADDRESS, "postal_code": "ABC"}
    )

    assert r.status_code == 400
    html = r.content.decode()
    errors = field_errors(html, "postal_code")
    assert errors, html
    assert field_errors(html, "city") == []
    assert 'value="ABC"' in html
    checkout.refresh_from_db()
    assert checkout.shipping_address is None


def test_checkout_shipping_address_post_missing_fields_each_flagged(client, make_cart):
    cart = make_cart()
    checkout = checkout_at(cart, "shipping-address")

    r = client.post(url(checkout, "shipping-address"), {"country": "US"})

    assert r.status_code == 400
    html = r.content.decode()
    assert field_errors(html, "name") == ["This field is required."]
    assert field_errors(html, "line1") == ["This field is required."]


def test_checkout_shipping_address_post_valid_normalises_and_skips_billing(
    client, make_cart, shipping_method
):
    cart = make_cart()
    checkout = checkout_at(cart, "shipping-address")

    r = client.post(
        url(checkout, "shipping-address"),
        {**ADDRESS, "region": "ca", "phone": "(650) 253-0000"},
    )

    assert r.status_code == 302
    assert r["Location"] == url(checkout, "shipping-method")
    checkout.refresh_from_db()
    assert checkout.shipping_address["region"] == "CA"
    assert checkout.shipping_address["phone"] == "+16502530000"


def test_checkout_billing_address_post_own_address_bad_postal_code_error(
    client, make_cart, shipping_method
):
    cart = make_cart()
    checkout = checkout_at(cart, "billing-address")

    r = client.post(url(checkout, "billing-address"), {**ADDRESS, "postal_code": "ABC"})

    assert r.status_code == 400
    assert field_errors(r.content.decode(), "postal_code")


def test_checkout_shipping_method_post_without_choice_error_next_to_field(
    client, make_cart, shipping_method
):
    cart = make_cart()
    checkout = checkout_at(cart, "shipping-method")

    r = client.post(url(checkout, "shipping-method"), {})

    assert r.status_code == 400
    html = r.content.decode()
    assert 'id="field-shipping_method"' in html
    assert "This field is required." in html


def test_checkout_shipping_method_post_valid_redirects_to_payment(
    client, make_cart, shipping_method, localstripe
):
    cart = make_cart()
    checkout = checkout_at(cart, "shipping-method")

    r = client.post(
        url(checkout, "shipping-method"), {"shipping_method": shipping_method.pk}
    )

    assert r.status_code == 302
    assert r["Location"] == url(checkout, "payment")
    # "Continue to payment" started it: the redirect lands on the card form.
    assert Order.objects.get(checkout=checkout).status == "pending_payment"


@pytest.mark.parametrize(
    ("reached", "asked", "expected"),
    [
        ("email", "shipping-address", "email"),
        ("email", "payment", "email"),
        ("shipping-address", "shipping-method", "shipping-address"),
        ("shipping-address", "payment", "shipping-address"),
        ("shipping-method", "payment", "shipping-method"),
    ],
)
def test_checkout_step_not_reached_yet_redirects_to_first_open_step(
    client, make_cart, shipping_method, reached, asked, expected
):
    cart = make_cart()
    checkout = checkout_at(cart, reached)

    r = client.get(url(checkout, asked))

    assert r.status_code == 302
    assert r["Location"] == url(checkout, expected)


def test_checkout_digital_cart_shipping_steps_redirect_to_billing(client, make_cart):
    cart = make_cart(weight=0)
    checkout = checkout_at(cart, "shipping-address")

    for step in ("shipping-address", "shipping-method"):
        r = client.get(url(checkout, step))
        assert r.status_code == 302
        assert r["Location"] == url(checkout, "billing-address")
    r = client.get(url(checkout, "billing-address"))
    html = r.content.decode()
    assert "Shipping address</" not in html
    assert current_step(html) == "Billing address"


@pytest.mark.localstripe
def test_checkout_payment_post_then_get_renders_card_form_order_and_progress(
    client, make_cart, shipping_method, localstripe
):
    cart = make_cart(price=2000)
    checkout = checkout_at(cart, "payment", method=shipping_method)

    assert client.post(url(checkout, "payment")).status_code == 302
    r = client.get(url(checkout, "payment"))

    assert r.status_code == 200
    html = r.content.decode()
    assert current_step(html) == "Review & pay"
    order = Order.objects.get(checkout=checkout)
    assert order.status == "pending_payment"
    assert order.number in html
    assert 'id="card-element"' in html
    assert 'data-client-secret="pi_' in html
    assert "Pay $25.00" in html  # 20.00 + 5.00 shipping, no tax rate


@pytest.mark.localstripe
def test_checkout_payment_out_of_stock_redirects_to_cart_naming_line(
    client, make_cart, shipping_method, localstripe
):
    cart = make_cart(lines=((None, 3),), stock=3)
    checkout = checkout_at(cart, "payment", method=shipping_method)
    StockItem.objects.filter(variant_id=cart.lines.get().variant_id).update(on_hand=1)
    sku = cart.lines.get().variant.sku

    r = client.post(url(checkout, "payment"), follow=True)

    assert r.redirect_chain[-1][0] == "/cart/"
    assert sku in r.content.decode()
    assert not Order.objects.filter(checkout=checkout).exists()


def test_checkout_completed_step_redirects_to_signed_order_page(client, make_cart):
    cart = make_cart()
    checkout = checkout_at(cart, "email")
    order = make_order()
    Order.objects.filter(pk=order.pk).update(checkout=checkout)
    Checkout.objects.filter(pk=checkout.pk).update(state="completed")

    # The signed link carries a timestamp: the same second for both.
    with time_machine.travel(1_800_000_000, tick=False):
        r = client.get(url(checkout, "shipping-address"))
        expected = order_public_path(order)

    assert r.status_code == 302
    assert r["Location"] == expected


# --- confirmation, order history, order detail ----------------------------------


def test_order_confirmation_page_signed_link_shows_order(client):
    order = make_order(lines=2)

    r = client.get(order_public_path(order))

    assert r.status_code == 200
    html = r.content.decode()
    assert "Thank you for your order" in html
    assert f'data-testid="order-number">{order.number}<' in html
    assert html.count("<tr data-sku=") == 2
    assert "$20.00" in html


def test_order_list_page_lists_own_orders_newest_first(client):
    user = UserFactory()
    older, newer = make_order(user=user), make_order(user=user)
    make_order(user=UserFactory())
    make_order(user=user, status="pending_payment")
    client.force_login(user)

    r = client.get("/checkout/orders/")

    assert r.status_code == 200
    numbers = re.findall(r'data-number="([^"]+)"', r.content.decode())
    assert numbers == [newer.number, older.number]


def test_order_list_page_no_orders_says_so(client):
    client.force_login(UserFactory())

    r = client.get("/checkout/orders/")

    assert "You have no orders yet." in r.content.decode()


def test_order_detail_page_shows_lines_totals_and_tracking(client):
    user = UserFactory()
    order = make_order(user=user, lines=3)
    Order.objects.filter(pk=order.pk).update(
        status="fulfilled", carrier="UPS", tracking_number="1Z999"
    )
    client.force_login(user)

    r = client.get(f"/checkout/orders/{order.number}/")

    assert r.status_code == 200
    html = r.content.decode()
    assert html.count("<tr data-sku=") == 3
    assert "Shipped with UPS, tracking number" in html
    assert 'href="https://www.ups.com/track?tracknum=1Z999"' in html
    assert "$30.00" in html


# --- query counts do not grow with the cart -------------------------------------


def _count(client, path: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        r = client.get(path)
    assert r.status_code == 200, (path, r.status_code)
    return len(ctx.captured_queries)


@pytest.mark.parametrize(
    "step", ["email", "shipping-address", "billing-address", "shipping-method"]
)
def test_checkout_step_page_queries_same_for_1_and_5_lines(
    client, make_cart, shipping_method, django_assert_num_queries, step
):
    one = checkout_at(make_cart(), step)
    five = checkout_at(make_cart(lines=[(None, 1)] * 5), step)
    _count(client, url(five, step))  # warm per-process caches
    expected = _count(client, url(one, step))

    with django_assert_num_queries(expected):
        r = client.get(url(five, step))

    assert r.status_code == 200
    assert r.content.decode().count("<tr data-sku=") == 5


@pytest.mark.localstripe
def test_checkout_payment_page_queries_same_for_1_and_5_lines(
    client, make_cart, shipping_method, localstripe, django_assert_num_queries
):
    one = checkout_at(make_cart(), "payment", method=shipping_method)
    five = checkout_at(
        make_cart(lines=[(None, 1)] * 5), "payment", method=shipping_method
    )
    # Starting payment (POST) creates the order and intent; GETs only render.
    assert client.post(url(one, "payment")).status_code == 302
    assert client.post(url(five, "payment")).status_code == 302
    expected = _count(client, url(one, "payment"))

    with django_assert_num_queries(expected):
        r = client.get(url(five, "payment"))

    assert r.status_code == 200
    assert r.content.decode().count("<tr data-sku=") == 5
    assert 'id="card-element"' in r.content.decode()


def test_order_pages_queries_same_for_1_and_5_lines_and_orders(
    client, django_assert_num_queries
):
    user = UserFactory()
    client.force_login(user)
    one = make_order(user=user, lines=1)
    _count(client, "/checkout/orders/")
    list_one = _count(client, "/checkout/orders/")
    detail_one = _count(client, f"/checkout/orders/{one.number}/")
    guest_one = _count(client, order_public_path(one))
    five = make_order(user=user, lines=5)
    for _ in range(3):
        make_order(user=user)

    with django_assert_num_queries(list_one):
        client.get("/checkout/orders/")
    with django_assert_num_queries(detail_one):
        client.get(f"/checkout/orders/{five.number}/")
    with django_assert_num_queries(guest_one):
        client.get(order_public_path(five))


# --- acceptance 8: other people's checkouts and orders are 404 ------------------

STEP_NAMES = ["email", "shipping-address", "billing-address", "shipping-method"]


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("step", [*STEP_NAMES, "payment", "complete"])
def test_signed_in_checkout_pages_404_for_other_user_and_anonymous(
    client, make_cart, shipping_method, method, step
):
    owner = UserFactory()
    checkout = checkout_at(make_cart(user=owner), "shipping-method", user=owner)
    other = UserFactory()
    expected = 405 if method == "post" and step == "complete" else 404

    client.force_login(other)
    assert getattr(client, method)(url(checkout, step)).status_code == expected
    client.logout()
    assert getattr(client, method)(url(checkout, step)).status_code == expected
    client.force_login(owner)
    if method == "get" and step in STEP_NAMES:
        assert client.get(url(checkout, step)).status_code == 200
    checkout.refresh_from_db()
    assert checkout.shipping_method_id is None


def test_signed_in_checkout_start_never_reaches_other_users_cart(client, make_cart):
    owner = UserFactory()
    make_cart(user=owner)
    client.force_login(UserFactory())

    r = client.post("/checkout/")

    assert r.status_code == 302
    assert r["Location"] == "/cart/"
    assert not Checkout.objects.exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_signed_in_order_detail_404_for_other_user_and_anonymous(client, method):
    owner = UserFactory()
    order = make_order(user=owner, email=owner.email)
    path = f"/checkout/orders/{order.number}/"
    expected = 404 if method == "get" else 405

    client.force_login(UserFactory())
    assert getattr(client, method)(path).status_code == expected
    client.logout()
    assert getattr(client, method)(path).status_code == expected
    client.force_login(owner)
    assert client.get(path).status_code == 200


def test_order_detail_unknown_number_same_404_as_someone_elses(client):
    order = make_order(user=UserFactory())
    client.force_login(UserFactory())

    mine = client.get(f"/checkout/orders/{order.number}/")
    unknown = client.get("/checkout/orders/NOPE-NOPE/")

    assert mine.status_code == unknown.status_code == 404
    assert order.number not in mine.content.decode()


def test_order_list_other_users_orders_not_listed(client):
    theirs = make_order(user=UserFactory())
    client.force_login(UserFactory())

    r = client.get("/checkout/orders/")

    assert theirs.number not in r.content.decode()


def test_order_list_anonymous_redirects_to_login(client):
    r = client.get("/checkout/orders/")

    assert r.status_code == 302
    assert r["Location"].startswith("/accounts/login/")


def test_guest_checkout_reached_by_its_id_only(client, make_cart):
    checkout = checkout_at(make_cart(), "shipping-address")

    assert client.get(url(checkout, "shipping-address")).status_code == 200
    assert client.get(f"/checkout/{uuid.uuid4()}/shipping-address/").status_code == 404
    assert client.get("/checkout/not-a-uuid/shipping-address/").status_code == 404


def test_guest_order_page_tampered_signature_404(client):
    order = make_order()
    path = order_public_path(order)
    token = path.rstrip("/").rsplit("/", 1)[1]
    value, signature = token.rsplit(":", 1)
    forged = signature[:-1] + ("A" if signature[-1] != "A" else "B")

    assert client.get(path).status_code == 200
    assert client.get(f"/checkout/order/{value}:{forged}/").status_code == 404
    assert client.get(f"/checkout/order/{order.number}/").status_code == 404
    other = make_order()
    other_token = order_public_path(other).rstrip("/").rsplit("/", 1)[1]
    swapped = f"{value}:{other_token.rsplit(':', 1)[1]}"
    assert client.get(f"/checkout/order/{swapped}/").status_code == 404


# --- identification: sign in / sign up without losing the cart -----------------


def _lines(checkout_id) -> list[tuple[str, int]]:
    checkout = Checkout.objects.select_related("cart").get(pk=checkout_id)
    return sorted(
        (line.variant.sku, line.quantity)
        for line in checkout.cart.lines.select_related("variant")
    )


def _guest_to_email_step(client, make_cart):
    cart = make_cart(lines=((None, 2), (None, 1)))
    wanted = sorted((line.variant.sku, line.quantity) for line in cart.lines.all())
    guest_session(client, cart)
    r = client.post("/checkout/")
    email_page = client.get(r["Location"])
    assert email_page.status_code == 200
    assert "/accounts/login/?next=/checkout/" in email_page.content.decode()
    assert "/accounts/signup/?next=/checkout/" in email_page.content.decode()
    return wanted


def _back_in_checkout(client, response) -> tuple[str, str]:
    assert response.status_code == 302
    assert response["Location"] == "/checkout/"
    r = client.post("/checkout/")
    assert r.status_code == 302
    match = re.match(r"/checkout/([0-9a-f-]{36})/([a-z-]+)/$", r["Location"])
    assert match, r["Location"]
    page = client.get(r["Location"])
    assert page.status_code == 200
    return match.group(1), match.group(2)


def test_identification_log_in_keeps_guest_cart_and_skips_email(client, make_cart):
    user = UserFactory(verified_email=True)
    wanted = _guest_to_email_step(client, make_cart)

    r = client.post(
        "/accounts/login/",
        {"login": user.email, "password": PASSWORD, "next": "/checkout/"},
    )

    checkout_id, step = _back_in_checkout(client, r)
    assert step == "shipping-address"
    assert _lines(checkout_id) == wanted
    checkout = Checkout.objects.get(pk=checkout_id)
    assert (checkout.user, checkout.email) == (user, user.email)


def test_identification_log_in_merges_into_existing_user_cart(client, make_cart):
    user = UserFactory(verified_email=True)
    existing = make_cart(user=user)
    (earlier,) = [(li.variant.sku, li.quantity) for li in existing.lines.all()]
    wanted = _guest_to_email_step(client, make_cart)

    r = client.post(
        "/accounts/login/",
        {"login": user.email, "password": PASSWORD, "next": "/checkout/"},
    )

    checkout_id, step = _back_in_checkout(client, r)
    assert step == "shipping-address"
    assert _lines(checkout_id) == sorted([*wanted, earlier])
    assert Checkout.objects.get(pk=checkout_id).cart_id == existing.pk


def test_identification_sign_up_keeps_guest_cart(
    client, make_cart, django_capture_on_commit_callbacks
):
    wanted = _guest_to_email_step(client, make_cart)

    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(
            "/accounts/signup/",
            {
                "email": "new@example.com",
                "password1": PASSWORD,
                "password2": PASSWORD,
                "next": "/checkout/",
            },
        )
    # Signed in once the address is confirmed (enumeration prevention), in
    # the same browser: the link brings the shopper back to the checkout.
    assert r["Location"] == "/accounts/confirm-email/"
    (verification,) = mail.outbox
    link = re.search(
        r"http://testserver(/accounts/confirm-email/\S+/)", verification.body
    )
    r = client.post(link.group(1))

    checkout_id, step = _back_in_checkout(client, r)
    assert step == "shipping-address"
    assert _lines(checkout_id) == wanted
    assert Checkout.objects.get(pk=checkout_id).email == "new@example.com"


# --- header and account links ---------------------------------------------------


def test_header_signed_in_shows_orders_link_and_cart_count(client, make_cart):
    user = UserFactory()
    make_cart(user=user, lines=((None, 2), (None, 1)))
    client.force_login(user)

    html = client.get("/").content.decode()

    assert 'href="/checkout/orders/" data-testid="orders-link">Orders</a>' in html
    assert 'data-testid="cart-count">3<' in html


def test_header_anonymous_no_orders_link_guest_cart_count(client, make_cart):
    guest_session(client, make_cart(lines=((None, 4),)))

    html = client.get("/").content.decode()

    assert 'data-testid="orders-link"' not in html
    assert 'data-testid="cart-count">4<' in html


def test_profile_links_to_order_history(client):
    client.force_login(UserFactory())

    html = client.get("/account/").content.decode()

    assert re.search(
        r'href="/checkout/orders/"\s+data-testid="order-history-link"', html
    )


def test_guest_signs_in_from_the_email_step_and_checks_out_with_merged_cart(
    client, make_cart
):
    from tests.carts.factories import CartFactory, CartLineFactory

    user = UserFactory(verified_email=True, email="member@example.com")
    saved = CartLineFactory(cart=CartFactory(user=user), quantity=1)
    guest_cart = make_cart()
    guest_sku = guest_cart.lines.get().variant.sku
    guest_session(client, guest_cart)
    email_step = client.post("/checkout/", follow=True)
    assert current_step(email_step.content.decode()) == "Email"
    login_href = re.search(
        r'href="(/accounts/login/\?next=[^"]+)"', email_step.content.decode()
    ).group(1)

    signed_in = client.post(
        login_href.replace("&amp;", "&"),
        {"login": user.email, "password": PASSWORD},
        follow=True,
    )

    assert signed_in.status_code == 200
    # Signing in merged the carts into the account's: GET /checkout/ creates
    # nothing, it offers to start; one POST goes on.
    assert "Start checkout" in signed_in.content.decode()
    started = client.post("/checkout/", follow=True)
    html = started.content.decode()
    # Identified by the account: straight on to the address, both carts' lines.
    assert current_step(html) == "Shipping address"
    checkout = Checkout.objects.get(user=user)
    assert checkout.email == "member@example.com"
    skus = set(checkout.cart.lines.values_list("variant__sku", flat=True))
    assert skus == {saved.variant.sku, guest_sku}
