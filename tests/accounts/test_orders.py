"""Account order pages: history, detail with tracking and invoice, reorder,
refunds on the guest page, and the account offered on the confirmation page."""

import uuid

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.carts.models import CartLine
from apps.checkout.models import Order
from apps.checkout.services.orders import order_public_path
from tests.accounts.factories import UserFactory
from tests.billing.factories import RefundFactory
from tests.checkout.factories import OrderFactory, OrderLineFactory
from tests.inventory.factories import VariantFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def shopper(client):
    user = UserFactory(verified_email=True)
    client.force_login(user)
    return user


def test_order_detail_links_tracking_and_serves_the_invoice_pdf(client, shopper):
    order = OrderFactory(user=shopper, fulfilled=True, tracking_number="1Z999AA1")

    page = client.get(f"/checkout/orders/{order.number}/").content.decode()
    assert 'href="https://www.ups.com/track?tracknum=1Z999AA1"' in page
    assert f"/checkout/orders/{order.number}/invoice.pdf" in page

    pdf = client.get(f"/checkout/orders/{order.number}/invoice.pdf")
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")


def test_someone_elses_invoice_and_reorder_are_404(client, shopper):
    other = OrderFactory(paid=True, user=UserFactory())

    assert client.get(f"/checkout/orders/{other.number}/invoice.pdf").status_code == 404
    assert client.post(f"/checkout/orders/{other.number}/reorder/").status_code == 404


def test_reorder_puts_lines_back_and_names_the_ones_no_longer_sold(client, shopper):
    kept = VariantFactory(stock=10, product__title="Canvas Tote")
    gone = VariantFactory(stock=10, product__title="Old Mug")
    order = OrderFactory(user=shopper, paid=True, lines=0)
    OrderLineFactory(
        order=order, variant=kept, sku=kept.sku, title="Canvas Tote", quantity=2
    )
    OrderLineFactory(order=order, variant=gone, sku=gone.sku, title="Old Mug — Blue")
    gone.is_active = False
    gone.save(update_fields=["is_active"])

    response = client.post(f"/checkout/orders/{order.number}/reorder/", follow=True)

    lines = CartLine.objects.filter(cart__user=shopper)
    assert [(line.variant_id, line.quantity) for line in lines] == [(kept.pk, 2)]
    page = response.content.decode()
    assert f"Added 1 item from order {order.number} to your cart." in page
    assert "Old Mug — Blue was not added: it is no longer sold." in page


def test_reorder_adds_what_is_left_and_says_how_many(client, shopper):
    scarce = VariantFactory(stock=1, product__title="Wool Beanie")
    order = OrderFactory(user=shopper, paid=True, lines=0)
    OrderLineFactory(
        order=order, variant=scarce, sku=scarce.sku, title="Wool Beanie", quantity=3
    )

    response = client.post(f"/checkout/orders/{order.number}/reorder/", follow=True)

    assert CartLine.objects.get(cart__user=shopper).quantity == 1
    assert (
        "Wool Beanie was not added: only 1 of 3 are left." in response.content.decode()
    )


def test_reorder_is_post_only(client, shopper):
    order = OrderFactory(user=shopper, paid=True)
    assert client.get(f"/checkout/orders/{order.number}/reorder/").status_code == 405
    assert not CartLine.objects.exists()


def test_guest_page_lists_refunds_and_says_the_order_is_partially_refunded(client):
    order = OrderFactory(paid=True, lines=2)  # 25.00
    refund = RefundFactory(payment__reference=order.number, amount_minor=1000)
    Order.objects.filter(pk=order.pk).update(
        refunded_minor=1000, status=Order.Status.PARTIALLY_REFUNDED
    )

    page = client.get(order_public_path(order)).content.decode()

    assert "partially refunded: $10.00 of $25.00" in page
    assert f"$10.00 refunded on {refund.created_at:%-d %B %Y}" in page


def test_a_failed_refund_is_not_shown(client):
    order = OrderFactory(paid=True)
    RefundFactory(payment__reference=order.number, amount_minor=500, failed=True)

    page = client.get(order_public_path(order)).content.decode()

    assert 'data-testid="refund"' not in page


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_order_pages_query_count_does_not_grow_with_lines_or_orders(client, shopper):
    small = OrderFactory(user=shopper, fulfilled=True, lines=1)
    big = OrderFactory(user=shopper, fulfilled=True, lines=8)
    for line in [*small.lines.all(), *big.lines.all()]:
        line.variant = VariantFactory()
        line.save(update_fields=["variant"])
    RefundFactory(payment__reference=big.number, amount_minor=100)

    detail_small = _queries(client, f"/checkout/orders/{small.number}/")
    detail_big = _queries(client, f"/checkout/orders/{big.number}/")
    list_two = _queries(client, "/checkout/orders/")
    OrderFactory.create_batch(10, user=shopper, paid=True)
    list_twelve = _queries(client, "/checkout/orders/")

    assert detail_big == detail_small
    assert list_twelve == list_two


# --- the account offered on the confirmation page ------------------------------


def _placed_in_this_browser(client, **kwargs) -> Order:
    order = OrderFactory(paid=True, cart_id=uuid.uuid4(), **kwargs)
    session = client.session
    session["cart_id"] = str(order.cart_id)
    session.save()
    return order


def test_confirmation_offers_an_account_that_gets_the_order(
    client, django_capture_on_commit_callbacks
):
    earlier = OrderFactory(paid=True, email="ada@example.com")
    order = _placed_in_this_browser(client, email="ada@example.com")
    url = order_public_path(order)
    assert 'data-testid="account-offer"' in client.get(url).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"{url}account/",
            {"password1": "a-long-pass-phrase-7", "password2": "a-long-pass-phrase-7"},
        )

    assert response.status_code == 302
    order.refresh_from_db()
    assert order.user is not None
    assert order.user.email == "ada@example.com"
    assert order.user.check_password("a-long-pass-phrase-7")
    (confirm,) = [m for m in mail.outbox if "/accounts/confirm-email/" in m.body]
    assert confirm.to == ["ada@example.com"]
    # Once the address is confirmed, the earlier guest order is theirs too.
    EmailAddress.objects.filter(email="ada@example.com").update(verified=True)
    client.force_login(order.user)
    history = client.get("/checkout/orders/").content.decode()
    assert order.number in history
    assert earlier.number in history


def test_account_offer_refuses_mismatched_passwords(client):
    order = _placed_in_this_browser(client)

    response = client.post(
        f"{order_public_path(order)}account/",
        {"password1": "a-long-pass-phrase-7", "password2": "something-else-8"},
    )

    assert response.status_code == 200
    assert "The two passwords differ." in response.content.decode()
    order.refresh_from_db()
    assert order.user is None


def test_account_offer_for_a_taken_email_sends_to_log_in(client):
    user = UserFactory(email="taken@example.com", verified_email=True)
    order = _placed_in_this_browser(client, email="taken@example.com")

    response = client.post(
        f"{order_public_path(order)}account/",
        {"password1": "a-long-pass-phrase-7", "password2": "a-long-pass-phrase-7"},
    )

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    user.refresh_from_db()
    assert user.check_password("a-long-pass-phrase-7") is False
    order.refresh_from_db()
    assert order.user is None


def test_a_forwarded_order_link_offers_no_account(client):
    order = OrderFactory(paid=True, cart_id=uuid.uuid4())  # another browser's cart
    url = order_public_path(order)

    assert 'data-testid="account-offer"' not in client.get(url).content.decode()
    response = client.post(
        f"{url}account/",
        {"password1": "a-long-pass-phrase-7", "password2": "a-long-pass-phrase-7"},
    )
    assert response.status_code == 404
    order.refresh_from_db()
    assert order.user is None
