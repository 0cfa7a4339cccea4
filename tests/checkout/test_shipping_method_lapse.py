"""A shipping method that no longer quotes is no longer chosen.

The chosen method stops applying when the parcel outgrows its top weight
band, it is deactivated, or its zone or currency no longer matches. Totals
then show shipping as missing (not 0), payment start answers 409
``shipping_method_unavailable``, the page sends the shopper back to the
delivery step with a message, and nothing prices the method at 0.
"""

import pytest

from apps.billing.models import Payment
from apps.checkout import services
from apps.checkout.models import Order
from apps.core.exceptions import ApplicationError
from apps.inventory.models import Reservation
from tests.checkout.conftest import ADDRESS, idem
from tests.checkout.factories import WeightBandFactory
from tests.inventory.factories import VariantFactory

pytestmark = pytest.mark.django_db

BAND_PRICE = 700


@pytest.fixture
def parcel():
    """International parcel: one weight band up to 1 kg; a 300 g mug."""
    band = WeightBandFactory(
        max_weight_grams=1000,
        price_minor=BAND_PRICE,
        method__name="International parcel",
    )
    variant = VariantFactory(stock=20, weight_grams=300, price_minor=1000)
    return band.method, variant


def _api_checkout(api_client, cart, method) -> str:
    r = api_client.post(
        "/api/v1/checkouts/",
        {"cart": str(cart.pk), "email": "g@example.com"},
        format="json",
        **idem(),
    )
    assert r.status_code in (200, 201), r.content
    checkout_id = r.json()["id"]
    r = api_client.patch(
        f"/api/v1/checkouts/{checkout_id}/",
        {
            "shipping_address": ADDRESS,
            "billing_same_as_shipping": True,
            "shipping_method": method.pk,
        },
        format="json",
    )
    assert r.status_code == 200, r.content
    assert r.json()["totals"]["shipping"]["amount"] == BAND_PRICE
    return checkout_id


def _make_lapse(how: str, method, cart) -> None:
    if how == "weight_past_top_band":
        line = cart.lines.get()
        # 4 × 300 g = 1.2 kg: past the 1 kg top band.
        from apps.carts import services as cart_services

        cart_services.cart_line_set_quantity(cart=cart, line_id=line.pk, quantity=4)
    elif how == "deactivated":
        method.is_active = False
        method.save(update_fields=["is_active"])
    elif how == "zone_drops_country":
        method.zone.countries = ["FR"]
        method.zone.save(update_fields=["countries"])
    elif how == "currency_changed":
        method.currency = "EUR"
        method.save(update_fields=["currency"])


LAPSES = [
    "weight_past_top_band",
    "deactivated",
    "zone_drops_country",
    "currency_changed",
]


@pytest.mark.parametrize("how", LAPSES)
def test_shipping_method_no_longer_quoting_is_not_chosen_payment_start_409(
    api_client, make_cart, parcel, localstripe, how
):
    method, variant = parcel
    cart = make_cart(lines=((variant, 1),))
    checkout_id = _api_checkout(api_client, cart, method)

    _make_lapse(how, method, cart)

    body = api_client.get(f"/api/v1/checkouts/{checkout_id}/").json()
    assert body["totals"]["shipping"] is None  # missing, not 0
    assert body["shipping_method"] is None
    assert body["next_step"] == "shipping_method"
    r = api_client.post(f"/api/v1/checkouts/{checkout_id}/payment/", **idem())
    assert r.status_code == 409, r.content
    assert r.json()["error"]["code"] == "shipping_method_unavailable"
    assert r.json()["error"]["details"]["next_step"] == "shipping_method"
    # Nothing started: no order, no intent, no stock held.
    assert Order.objects.count() == 0
    assert Payment.objects.count() == 0
    assert Reservation.objects.count() == 0


def test_shipping_method_lapsed_totals_never_price_it_at_zero(make_cart, parcel):
    method, variant = parcel
    cart = make_cart(lines=((variant, 1),))
    checkout, _ = services.checkout_start(cart=cart, email="g@example.com")
    checkout = services.checkout_set_shipping_address(
        checkout=checkout, address=ADDRESS
    )
    checkout = services.checkout_set_shipping_method(
        checkout=checkout, method_id=method.pk
    )
    _make_lapse("weight_past_top_band", method, cart)
    checkout.refresh_from_db()

    totals = services.checkout_totals(checkout=checkout)

    assert totals.shipping_method_lapsed
    assert totals.shipping_missing
    assert totals.as_api()["shipping"] is None
    with pytest.raises(ApplicationError) as exc:
        services.checkout_payment_start(checkout=checkout)
    assert exc.value.status_code == 409
    assert exc.value.code == "shipping_method_unavailable"


def test_shipping_method_lapsed_again_quoting_after_quantity_lowered_is_charged(
    api_client, make_cart, parcel, localstripe
):
    method, variant = parcel
    cart = make_cart(lines=((variant, 1),))
    checkout_id = _api_checkout(api_client, cart, method)
    _make_lapse("weight_past_top_band", method, cart)
    line = cart.lines.get()
    from apps.carts import services as cart_services

    cart_services.cart_line_set_quantity(cart=cart, line_id=line.pk, quantity=2)

    r = api_client.post(f"/api/v1/checkouts/{checkout_id}/payment/", **idem())

    assert r.status_code == 200, r.content
    order = Order.objects.get(number=r.json()["order_number"])
    assert order.shipping_minor == BAND_PRICE
    assert r.json()["amount"]["amount"] == order.total_minor == 2000 + BAND_PRICE


@pytest.mark.parametrize("method_name", ["GET", "POST"])
def test_shipping_method_lapsed_payment_page_sends_back_to_delivery_with_message(
    client, make_cart, parcel, localstripe, method_name
):
    method, variant = parcel
    cart = make_cart(lines=((variant, 1),))
    session = client.session
    session["cart_id"] = str(cart.pk)
    session.save()
    checkout, _ = services.checkout_start(cart=cart, email="g@example.com")
    checkout = services.checkout_set_shipping_address(
        checkout=checkout, address=ADDRESS
    )
    services.checkout_set_shipping_method(checkout=checkout, method_id=method.pk)
    _make_lapse("weight_past_top_band", method, cart)

    url = f"/checkout/{checkout.pk}/payment/"
    r = getattr(client, method_name.lower())(url, follow=True)

    assert r.redirect_chain[-1][0] == f"/checkout/{checkout.pk}/shipping-method/"
    html = r.content.decode()
    assert "International parcel no longer applies" in html
    assert "No longer available: choose a delivery method" in html
    assert Order.objects.count() == 0
    assert Payment.objects.count() == 0
