"""Every transactional email goes out as text and HTML from one base template.

Each test triggers the email through the service that sends it and reads both
parts: what a shopper needs (amounts, items, links) is in each.
"""

from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone

from apps.checkout import services
from apps.checkout.models import Order
from apps.inventory.services import back_in_stock_subscribe, stock_adjust
from tests.billing.factories import RefundFactory
from tests.checkout.factories import OrderFactory, OrderLineFactory
from tests.email_parts import assert_base, email_parts
from tests.inventory.factories import ProductImageFactory, VariantFactory

pytestmark = pytest.mark.django_db


def test_order_confirmation_lists_items_picture_address_and_every_total(
    django_capture_on_commit_callbacks, settings
):
    settings.SITE_URL = "https://shop.example"
    variant = VariantFactory(product__title="Pocket Tee & Co")
    ProductImageFactory(
        product=variant.product,
        renditions=[
            {"name": "products/r/tee-240.webp", "width": 240, "height": 240},
            {"name": "products/r/tee-1200.webp", "width": 1200, "height": 1200},
        ],
    )
    order = OrderFactory(
        paid=True,
        lines=0,
        discount_minor=300,
        tax_minor=170,
        coupons=[{"code": "WELCOME10", "discount_minor": 300}],
    )
    OrderLineFactory(
        order=order, variant=variant, title="Pocket Tee & Co — Navy, M", quantity=2
    )
    Order.objects.filter(pk=order.pk).update(subtotal_minor=2000, total_minor=2370)
    order.refresh_from_db()

    with django_capture_on_commit_callbacks(execute=True):
        services.order_confirmation_send(order)

    (message,) = mail.outbox
    text, html = email_parts(message)
    assert_base(text, html)
    for part in (text, html):
        assert order.number in part
        assert "$20.00" in part  # subtotal and the line
        assert "WELCOME10" in part
        assert "$3.00" in part
        assert "Standard" in part
        assert "$5.00" in part
        assert "$1.70" in part  # tax
        assert "$23.70" in part  # total
        assert "Mountain View, CA 94043" in part
        assert "https://shop.example/checkout/order/" in part
    assert "Pocket Tee & Co — Navy, M" in text  # the text part is not HTML-escaped
    assert "Pocket Tee &amp; Co — Navy, M" in html
    # The phone-sized rendition, absolute: never the 1200 px copy.
    assert 'src="https://shop.example/media/products/r/tee-240.webp"' in html
    assert "tee-1200" not in html


def test_shipped_email_links_to_the_carriers_tracking_page(
    django_capture_on_commit_callbacks,
):
    order = OrderFactory(paid=True)

    with django_capture_on_commit_callbacks(execute=True):
        services.order_fulfil(order=order, carrier="UPS", tracking_number="1Z 999AA1")

    (message,) = mail.outbox
    text, html = email_parts(message)
    assert_base(text, html)
    link = "https://www.ups.com/track?tracknum=1Z%20999AA1"
    assert link in text
    assert f'href="{link}"' in html
    assert "1Z 999AA1" in html
    assert "Mountain View" in html


def test_refund_email_says_amount_items_date_and_that_the_order_is_partial(
    django_capture_on_commit_callbacks,
):
    order = OrderFactory(paid=True, lines=2)  # 2 × 10.00 + 5.00 shipping
    first = order.lines.order_by("pk").first()
    refund = RefundFactory(payment__reference=order.number, amount_minor=1000)

    with django_capture_on_commit_callbacks(execute=True):
        services.order_refund_apply(
            order_id=order.pk, refund=refund, plan={first.pk: 1}
        )

    (message,) = mail.outbox
    assert message.subject == f"$10.00 refunded on order {order.number}"
    text, html = email_parts(message)
    assert_base(text, html)
    today = timezone.localdate().strftime("%-d %B %Y")
    for part in (text, html):
        assert "$10.00" in part
        assert f"1 × {first.title}" in part
        assert today in part
        assert "partially refunded: $10.00 of $25.00" in part


def test_cancellation_email_for_an_order_left_unpaid(
    django_capture_on_commit_callbacks,
):
    order = OrderFactory(payment=False)
    Order.objects.filter(pk=order.pk).update(
        updated_at=timezone.now() - timedelta(days=2)
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert services.orders_cancel_abandoned(older_than=timedelta(hours=1)) == [
            order.number
        ]

    (message,) = mail.outbox
    assert message.subject == f"Order {order.number} has been cancelled"
    text, html = email_parts(message)
    assert_base(text, html)
    for part in (text, html):
        assert "not been charged" in part
        assert "$15.00" in part
        assert "Continue shopping" in part


def test_back_in_stock_email_has_both_parts(django_capture_on_commit_callbacks):
    variant = VariantFactory(stock=0, product__title="Wool Beanie")
    back_in_stock_subscribe(variant_id=variant.pk, email="a@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        stock_adjust(variant_id=variant.pk, quantity_delta=3, reason="receive")

    (message,) = mail.outbox
    text, html = email_parts(message)
    assert_base(text, html)
    for part in (text, html):
        assert "Wool Beanie" in part
        assert f"/products/{variant.product.slug}/" in part


def test_apology_email_after_an_order_that_could_not_be_completed():
    from django.template.loader import render_to_string

    order = OrderFactory(refunded=True)
    context = {"order": order, "lines": list(order.lines.all()), "reason": "sold out"}
    text = render_to_string("checkout/email/order_apology_message.txt", context)
    html = render_to_string("checkout/email/order_apology_message.html", context)

    assert_base(text, html)
    for part in (text, html):
        assert "sold out" in part
        assert "$15.00" in part


def test_every_email_template_has_a_text_and_an_html_part():
    """A new ``*_message.txt`` without its ``.html`` sibling fails here."""
    root = Path(settings.BASE_DIR) / "templates"
    texts = sorted(root.glob("**/email/*_message.txt"))
    assert len(texts) >= 25, "the glob no longer finds the email templates"
    missing = [
        str(text.relative_to(root))
        for text in texts
        if not text.with_suffix(".html").exists()
    ]
    assert missing == []
    no_subject = [
        str(text.relative_to(root))
        for text in texts
        if not text.with_name(text.name.replace("_message", "_subject")).exists()
    ]
    assert no_subject == []


def test_shop_email_templates_extend_the_one_base():
    """Both parts share the base (logo link, footer, autoescape off in text).

    allauth's templates (``account/email/``) have their own base, kept apart.
    Dunning's HTML parts still wrap their text part (``white-space: pre-line``),
    so its text parts cannot extend the text base yet.
    """
    root = Path(settings.BASE_DIR) / "templates"
    texts = [
        text
        for text in sorted(root.glob("**/email/*_message.txt"))
        if text.parent.parent.name not in {"account", "dunning"}
    ]
    off_base = [
        str(path.relative_to(root))
        for text in texts
        for path, base in (
            (text, '{% extends "email/base.txt" %}'),
            (text.with_suffix(".html"), '{% extends "email/base.html" %}'),
        )
        if not path.read_text().startswith(base)
    ]
    assert off_base == []
