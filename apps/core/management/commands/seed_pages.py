"""The shop's flat pages (footer links), editable afterwards in admin.

Idempotent: a page that exists is left as staff edited it. The site row is
named after the shop so flat pages and mails never say "example.com".
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.flatpages.models import FlatPage
from django.contrib.sites.models import Site
from django.core.management.base import BaseCommand
from django.db import transaction

PAGES = [
    (
        "/pages/about/",
        "About us",
        "<p>We make everyday clothes, bags and homeware in small batches, "
        "and ship them from our own workshop.</p>",
    ),
    (
        "/pages/contact/",
        "Contact",
        '<p>Email <a href="mailto:hello@example.com">hello@example.com</a> '
        "and we answer within one working day. Please quote your order "
        "number.</p>",
    ),
    (
        "/pages/shipping-returns/",
        "Shipping and returns",
        "<h2>Shipping</h2><p>Orders ship within two working days; the "
        "checkout shows each method's price and delivery time.</p>"
        "<h2>Returns</h2><p>Send unworn items back within 30 days for a "
        "refund to your original payment method.</p>",
    ),
    (
        "/pages/privacy/",
        "Privacy",
        "<p>We keep your name, addresses and orders to deliver them and to "
        "answer you. Card details go straight to Stripe; we never see "
        "them.</p>",
    ),
    (
        "/pages/terms/",
        "Terms",
        "<p>Prices include the taxes shown at checkout. A contract is made "
        "when we email your order confirmation.</p>",
    ),
]


class Command(BaseCommand):
    help = "Create the About, Contact, Shipping, Privacy and Terms pages (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        domain = urlsplit(settings.SITE_URL).netloc or "localhost"
        site, _ = Site.objects.update_or_create(
            pk=settings.SITE_ID, defaults={"domain": domain, "name": "Shop"}
        )
        for url, title, content in PAGES:
            page, created = FlatPage.objects.get_or_create(
                url=url, defaults={"title": title, "content": content}
            )
            if created:
                page.sites.add(site)
        self.stdout.write(f"Flat pages: {len(PAGES)}")
