"""seed_demo's storefront part: demo coupons and the footer's flat pages."""

import io

import pytest
from django.contrib.flatpages.models import FlatPage
from django.core.management import call_command

from apps.coupons.models import Coupon

pytestmark = pytest.mark.django_db

FOOTER = [
    "/pages/about/",
    "/pages/contact/",
    "/pages/shipping-returns/",
    "/pages/privacy/",
    "/pages/terms/",
]


def _seed():
    call_command("seed_coupons", stdout=io.StringIO())
    call_command("seed_pages", stdout=io.StringIO())


def test_demo_coupons_are_created_once_with_their_rules():
    _seed()
    _seed()

    coupons = {c.code: c for c in Coupon.objects.all()}
    assert sorted(coupons) == ["BUNDLE", "FREESHIP", "WELCOME10"]
    assert (coupons["WELCOME10"].kind, coupons["WELCOME10"].value) == (
        "percentage",
        1000,
    )
    assert coupons["WELCOME10"].is_first_order_only
    assert coupons["FREESHIP"].kind == "free_shipping"
    bundle = coupons["BUNDLE"]
    assert (bundle.kind, bundle.buy_quantity, bundle.get_quantity, bundle.value) == (
        "buy_x_get_y",
        2,
        1,
        10_000,
    )


def test_a_coupon_staff_edited_is_left_alone():
    _seed()
    Coupon.objects.filter(code="FREESHIP").update(is_active=False)

    _seed()

    assert Coupon.objects.get(code="FREESHIP").is_active is False


def test_every_footer_link_is_a_seeded_page_that_renders(client):
    _seed()
    FlatPage.objects.filter(url="/pages/terms/").update(title="Terms of sale")

    home = client.get("/pages/about/")
    assert home.status_code == 200
    page = home.content.decode()
    for url in FOOTER:
        assert f'href="{url}"' in page
        assert client.get(url).status_code == 200
    _seed()  # staff's edit survives a second seed
    terms = client.get("/pages/terms/").content.decode()
    assert "<h1>Terms of sale</h1>" in terms


def test_pages_have_a_skip_link_and_a_favicon(client):
    _seed()
    page = client.get("/pages/about/").content.decode()

    assert '<a class="skip-link" href="#main">' in page
    assert 'id="main"' in page
    assert 'rel="icon"' in page
    assert "favicon.svg" in page
