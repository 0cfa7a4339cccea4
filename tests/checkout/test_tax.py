"""Tax: prices with or without tax, by country and region, on goods and
shipping — checked against amounts worked out by hand."""

import pytest
from django.db import transaction

from apps.checkout import services
from apps.checkout.models import TaxSettings
from apps.checkout.services.order_placement import order_place_pending
from tests.checkout.conftest import ADDRESS
from tests.checkout.factories import ShippingMethodFactory, TaxRateFactory

pytestmark = pytest.mark.django_db

PARIS = {
    "name": "Ada Lovelace",
    "line1": "10 Rue de Rivoli",
    "city": "Paris",
    "postal_code": "75001",
    "country": "FR",
}
NEW_YORK = {
    **ADDRESS,
    "line1": "350 Fifth Avenue",
    "city": "New York",
    "region": "NY",
    "postal_code": "10118",
    "phone": "",
}


def set_prices_include_tax(value: bool) -> None:
    TaxSettings.objects.update_or_create(pk=1, defaults={"prices_include_tax": value})


def digital_checkout(make_cart, *, price: int, address: dict, quantity: int = 1):
    """A cart of downloads (no shipping): tax follows the billing address."""
    cart = make_cart(lines=((None, quantity),), weight=0, price=price)
    checkout, _ = services.checkout_start(cart=cart, email="t@example.com")
    return services.checkout_set_billing_address(
        checkout=checkout, same_as_shipping=False, address=address
    )


def shipped_checkout(make_cart, *, price: int, address: dict, shipping: int):
    cart = make_cart(price=price)
    method = ShippingMethodFactory(price_minor=shipping)
    checkout, _ = services.checkout_start(cart=cart, email="t@example.com")
    checkout = services.checkout_set_shipping_address(
        checkout=checkout, address=address
    )
    return services.checkout_set_shipping_method(checkout=checkout, method_id=method.pk)


# (prices include tax?, basis points, price, tax, total) — worked by hand:
#   20 % inside 12.00: 12.00 × 20/120 = 2.00
#   8.25 % on 19.99: 1.649… → 1.65
#   8.25 % inside 19.99: 19.99 × 8.25/108.25 = 1.5234… → 1.52
#   20 % on 12.00: 2.40
#   7 % inside 0.99: 0.99 × 7/107 = 0.0647… → 0.06
#   7 % on 0.99: 0.0693 → 0.07
#   0 %: nothing
TABLE = [
    (True, 2000, 1200, 200, 1200),
    (False, 825, 1999, 165, 2164),
    (True, 825, 1999, 152, 1999),
    (False, 2000, 1200, 240, 1440),
    (True, 700, 99, 6, 99),
    (False, 700, 99, 7, 106),
    (False, 0, 1999, 0, 1999),
]


@pytest.mark.parametrize(("inclusive", "bp", "price", "tax", "total"), TABLE)
def test_checkout_totals_tax_matches_hand_computed_table(
    make_cart, inclusive, bp, price, tax, total
):
    set_prices_include_tax(inclusive)
    TaxRateFactory(country="FR", name="TVA", basis_points=bp)
    checkout = digital_checkout(make_cart, price=price, address=PARIS)

    totals = services.checkout_totals(checkout=checkout)

    assert (totals.subtotal_minor, totals.tax_minor, totals.total_minor) == (
        price,
        tax,
        total,
    )
    assert totals.prices_include_tax is inclusive
    assert totals.taxes == ({"name": "TVA", "basis_points": bp, "amount_minor": tax},)


def test_checkout_totals_quantity_taxed_once_on_line_total(make_cart):
    # 3 × 3.33 = 9.99; 8.25 % of 9.99 = 0.824… → 0.82 (not 3 × 0.27 = 0.81).
    TaxRateFactory(country="FR", basis_points=825)
    checkout = digital_checkout(make_cart, price=333, address=PARIS, quantity=3)

    totals = services.checkout_totals(checkout=checkout)

    assert (totals.tax_minor, totals.total_minor) == (82, 1081)


@pytest.mark.parametrize(
    ("inclusive", "applies_to_shipping", "tax", "total"),
    [
        # 20.00 goods + 5.00 shipping at 10 %
        (False, True, 250, 2750),
        (False, False, 200, 2700),
        # inside 25.00: 25.00 × 10/110 = 2.2727… → 2.27; goods only 20 × 10/110
        (True, True, 227, 2500),
        (True, False, 182, 2500),
    ],
)
def test_checkout_totals_shipping_taxed_only_when_rate_applies(
    make_cart, inclusive, applies_to_shipping, tax, total
):
    set_prices_include_tax(inclusive)
    TaxRateFactory(
        country="US", basis_points=1000, applies_to_shipping=applies_to_shipping
    )
    checkout = shipped_checkout(make_cart, price=2000, address=ADDRESS, shipping=500)

    totals = services.checkout_totals(checkout=checkout)

    assert (totals.shipping_minor, totals.tax_minor, totals.total_minor) == (
        500,
        tax,
        total,
    )


@pytest.mark.parametrize(
    ("address", "names", "tax"),
    [
        # California has its own rate: it replaces the country-wide one.
        (ADDRESS, ["CA sales tax"], 145),
        # New York has none: the country-wide rate applies.
        (NEW_YORK, ["US sales tax"], 100),
    ],
)
def test_checkout_totals_region_rate_beats_country_rate(make_cart, address, names, tax):
    TaxRateFactory(country="US", name="US sales tax", basis_points=500)
    TaxRateFactory(country="US", region="CA", name="CA sales tax", basis_points=725)
    TaxRateFactory(country="FR", name="TVA", basis_points=2000)
    checkout = shipped_checkout(make_cart, price=2000, address=address, shipping=0)

    totals = services.checkout_totals(checkout=checkout)

    assert [t["name"] for t in totals.taxes] == names
    assert totals.tax_minor == tax
    assert totals.total_minor == 2000 + tax


def test_checkout_totals_country_without_rate_no_tax(make_cart):
    TaxRateFactory(country="US", basis_points=825)
    checkout = digital_checkout(make_cart, price=1999, address=PARIS)

    totals = services.checkout_totals(checkout=checkout)

    assert (totals.tax_minor, totals.total_minor, totals.taxes) == (0, 1999, ())


def test_checkout_new_address_recomputes_tax(make_cart):
    TaxRateFactory(country="US", region="CA", name="CA", basis_points=725)
    TaxRateFactory(country="FR", name="TVA", basis_points=2000)
    checkout = digital_checkout(make_cart, price=1000, address=ADDRESS)
    assert services.checkout_totals(checkout=checkout).tax_minor == 73

    checkout = services.checkout_set_billing_address(
        checkout=checkout, same_as_shipping=False, address=PARIS
    )

    assert services.checkout_totals(checkout=checkout).tax_minor == 200


def test_order_snapshot_keeps_tax_mode_and_amounts(make_cart):
    set_prices_include_tax(True)
    TaxRateFactory(country="FR", name="TVA", basis_points=2000)
    checkout = digital_checkout(make_cart, price=1200, address=PARIS)
    totals = services.checkout_totals(checkout=checkout)

    with transaction.atomic():
        order = order_place_pending(checkout=checkout, totals=totals)
    set_prices_include_tax(False)

    order.refresh_from_db()
    assert (order.tax_minor, order.total_minor, order.prices_include_tax) == (
        200,
        1200,
        True,
    )
    assert order.taxes == [{"name": "TVA", "basis_points": 2000, "amount_minor": 200}]


@pytest.mark.parametrize(
    ("inclusive", "label", "tax", "total"),
    [(True, "Tax (included)", "$2.00", "$12.00"), (False, "Tax", "$2.40", "$14.40")],
)
def test_checkout_summary_shows_tax_line_and_mode(
    client, make_cart, inclusive, label, tax, total
):
    set_prices_include_tax(inclusive)
    TaxRateFactory(country="FR", name="TVA", basis_points=2000)
    checkout = digital_checkout(make_cart, price=1200, address=PARIS)

    r = client.get(f"/checkout/{checkout.pk}/billing-address/")

    html = r.content.decode()
    assert f"<th>{label}</th>" in html
    assert f'data-total="tax">{tax}<' in html
    assert f'data-total="total">{total}<' in html
