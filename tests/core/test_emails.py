"""Every transactional email goes out as text and HTML from one base template.

Each test triggers the email through the service that sends it and reads both
parts: what a shopper needs (amounts, items, links) is in each.
"""

import datetime as dt
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone

from apps.analytics.services.jobs import range_compute
from apps.analytics.services.weekly import weekly_summary_send
from apps.checkout import services
from apps.checkout.models import Order
from apps.checkout.services.customer_messages import order_apology_send
from apps.dunning.services.emails import KINDS as DUNNING_KINDS
from apps.dunning.services.emails import case_email_send
from apps.inventory.services import back_in_stock_subscribe, stock_adjust
from apps.webhooks.models import Endpoint
from apps.webhooks.services.endpoints import endpoint_delivery_dead
from tests.accounts.factories import UserFactory
from tests.analytics.factories import at, history
from tests.billing.factories import RefundFactory
from tests.checkout.factories import OrderFactory, OrderLineFactory
from tests.dunning.factories import DunningCaseFactory
from tests.email_parts import assert_base, both_parts, email_parts
from tests.inventory.factories import ProductImageFactory, VariantFactory
from tests.subscriptions.factories import PlanPriceFactory

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
    """
    root = Path(settings.BASE_DIR) / "templates"
    texts = [
        text
        for text in sorted(root.glob("**/email/*_message.txt"))
        if text.parent.parent.name != "account"
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


def test_apology_email_after_an_order_that_could_not_be_completed(
    django_capture_on_commit_callbacks,
):
    order = OrderFactory(refunded=True)

    with django_capture_on_commit_callbacks(execute=True):
        order_apology_send(order, reason="sold out")

    text, html = both_parts(order.email, order.number)
    for part in (text, html):
        assert "sold out" in part
        assert "$15.00" in part


@pytest.mark.parametrize("kind", DUNNING_KINDS)
def test_dunning_email_has_both_parts_with_amount_and_link(
    kind, settings, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "https://shop.example"
    case = DunningCaseFactory(
        invoice__amount_due_minor=1250,
        invoice__currency="USD",
        invoice__subscription__user__email="late@example.com",
        invoice__subscription__price__plan__name="Studio & Co",
    )

    with django_capture_on_commit_callbacks(execute=True):
        case_email_send(case=case, kind=kind)

    text, html = both_parts("late@example.com", "Studio & Co")
    assert "Studio & Co" in text
    assert "Studio &amp; Co" in html
    link = {
        "authenticate": f"https://shop.example/dunning/payments/{case.pk}/",
        "recovered": None,
    }.get(kind, "https://shop.example/account/subscription/")
    for part in (text, html):
        assert "$12.50" in part
    if link:
        assert link in text
        assert f'href="{link}"' in html


def test_weekly_summary_email_has_both_parts_with_the_figures(
    django_capture_on_commit_callbacks,
):
    staff = UserFactory(is_staff=True, email="boss@example.com")
    basic = PlanPriceFactory(amount_minor=1000)
    history([(at("2026-01-01"), "active", basic, None)])
    history([(at("2026-01-07"), "active", basic, None)])
    range_compute(start=dt.date(2025, 12, 28), end=dt.date(2026, 1, 11))

    with django_capture_on_commit_callbacks(execute=True):
        assert weekly_summary_send(today=dt.date(2026, 1, 12)) == 1

    text, html = both_parts(staff.email, "Week of 5 Jan 2026")
    assert "MRR: $20.00 (+$10.00)" in text
    for part in (text, html):
        assert "$20.00" in part
        assert "/staff/analytics/" in part


def test_endpoint_disabled_email_tells_staff_which_endpoint_and_why(
    settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOKS_DISABLE_AFTER_DEAD = 1
    settings.WEBHOOKS_ALERT_EMAILS = ["ops@example.com"]
    endpoint = Endpoint.objects.create(
        url="https://hooks.example/orders", event_types=["order.*"], secret="s"
    )

    with django_capture_on_commit_callbacks(execute=True):
        endpoint_delivery_dead(endpoint_id=endpoint.pk)

    (message,) = mail.outbox
    text, html = email_parts(message)
    assert_base(text, html)
    for part in (text, html):
        assert "https://hooks.example/orders" in part
        assert "1 deliveries in a row went dead." in part
        assert f"/admin/webhooks/endpoint/{endpoint.pk}/change/" in part
