"""The cart is locked once a payment is started for its checkout.

Cart writes then answer 409 ``cart_locked`` (API) or a message (pages); the
"change cart" action cancels the intent at Stripe, cancels the pending order,
releases the stock and unlocks the cart. Nothing a shopper added is lost, and
what the checkout shows is what is charged.
"""

import pytest

from apps.billing import gateway
from apps.billing.models import Payment
from apps.carts.models import Cart
from apps.checkout import services
from apps.checkout.models import Order
from apps.inventory.models import Reservation
from tests.checkout.conftest import ADDRESS, api_checkout_to_payment, confirm_card, idem
from tests.inventory.factories import VariantFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def mug_and_hoodie():
    return (
        VariantFactory(stock=10, weight_grams=300, price_minor=1200, sku="MUG"),
        VariantFactory(stock=10, weight_grams=500, price_minor=4000, sku="HOODIE"),
    )


def _active_holds(checkout_id) -> list[Reservation]:
    return list(
        Reservation.objects.filter(ref=f"checkout:{checkout_id}", status="active")
    )


def test_cart_locked_after_payment_started_writes_answer_409_cart_locked(
    api_client, make_cart, shipping_method, localstripe, mug_and_hoodie
):
    mug, _hoodie = mug_and_hoodie
    cart = make_cart(lines=((mug, 1),))
    api_checkout_to_payment(api_client, cart, method=shipping_method)
    line = cart.lines.get()
    base = f"/api/v1/carts/{cart.pk}"

    refused = [
        api_client.post(
            f"{base}/lines/", {"sku": "HOODIE", "quantity": 3}, format="json", **idem()
        ),
        api_client.patch(f"{base}/lines/{line.pk}/", {"quantity": 2}, format="json"),
        api_client.delete(f"{base}/lines/{line.pk}/"),
        api_client.post(f"{base}/coupons/", {"code": "ANY"}, format="json"),
    ]

    for r in refused:
        assert r.status_code == 409, r.content
        assert r.json()["error"]["code"] == "cart_locked"
    assert [(li.variant_id, li.quantity) for li in cart.lines.all()] == [(mug.pk, 1)]


def test_cart_locked_page_add_refused_with_message_and_change_cart_offered(
    client, make_cart, shipping_method, localstripe, mug_and_hoodie
):
    mug, _hoodie = mug_and_hoodie
    cart = make_cart(lines=((mug, 1),))
    session = client.session
    session["cart_id"] = str(cart.pk)
    session.save()
    checkout, _ = services.checkout_start(cart=cart, email="g@example.com")
    checkout = services.checkout_set_shipping_address(
        checkout=checkout, address=ADDRESS
    )
    checkout = services.checkout_set_shipping_method(
        checkout=checkout, method_id=shipping_method.pk
    )
    services.checkout_payment_start(checkout=checkout)

    r = client.post("/cart/add/", {"sku": "HOODIE", "quantity": 3}, follow=True)

    html = r.content.decode()
    assert "Payment has started for this cart" in html
    assert 'data-testid="cart-locked"' in html
    assert "Change cart" in html
    assert cart.lines.count() == 1


def test_change_cart_cancels_intent_releases_stock_then_added_lines_are_charged(
    api_client, make_cart, shipping_method, localstripe, mug_and_hoodie
):
    mug, _hoodie = mug_and_hoodie
    cart = make_cart(lines=((mug, 1),))
    first = api_checkout_to_payment(api_client, cart, method=shipping_method)
    checkout_id = first["checkout_id"]
    assert _active_holds(checkout_id)

    r = api_client.post(f"/api/v1/checkouts/{checkout_id}/change-cart/", **idem())

    assert r.status_code == 200, r.content
    assert r.json()["state"] == "payment"  # back before payment
    old = gateway.payment_intent_retrieve(payment_intent_id=first["payment_intent_id"])
    assert old.status == "canceled"
    assert Order.objects.get(number=first["order_number"]).status == "cancelled"
    assert _active_holds(checkout_id) == []
    cart.refresh_from_db()
    assert not cart.is_locked

    # The shopper's changes are accepted now, and they are what is charged.
    base = f"/api/v1/carts/{cart.pk}"
    r = api_client.post(
        f"{base}/lines/", {"sku": "HOODIE", "quantity": 3}, format="json", **idem()
    )
    assert r.status_code == 200, r.content
    line = cart.lines.get(variant=mug)
    r = api_client.patch(f"{base}/lines/{line.pk}/", {"quantity": 2}, format="json")
    assert r.status_code == 200, r.content
    r = api_client.post(f"/api/v1/checkouts/{checkout_id}/payment/", **idem())
    assert r.status_code == 200, r.content
    second = r.json()
    assert second["payment_intent_id"] != first["payment_intent_id"]
    confirm_card(second["payment_intent_id"])
    r = api_client.post(f"/api/v1/checkouts/{checkout_id}/complete/", **idem())
    assert r.status_code == 200, r.content

    order = Order.objects.get(number=second["order_number"])
    assert order.status == "paid"
    assert sorted((li.sku, li.quantity) for li in order.lines.all()) == [
        ("HOODIE", 3),
        ("MUG", 2),
    ]
    charged = gateway.payment_intent_retrieve(
        payment_intent_id=second["payment_intent_id"]
    )
    assert charged.amount_minor == order.total_minor == 2 * 1200 + 3 * 4000 + 500


def test_change_cart_after_payment_succeeded_answers_409_and_order_is_paid(
    api_client, make_cart, shipping_method, localstripe, mug_and_hoodie
):
    mug, _ = mug_and_hoodie
    cart = make_cart(lines=((mug, 1),))
    session = api_checkout_to_payment(api_client, cart, method=shipping_method)
    confirm_card(session["payment_intent_id"])  # the card went through already

    r = api_client.post(
        f"/api/v1/checkouts/{session['checkout_id']}/change-cart/", **idem()
    )

    assert r.status_code == 409, r.content
    assert r.json()["error"]["code"] == "invalid_state_transition"
    order = Order.objects.get(number=session["order_number"])
    assert order.status == "paid"
    assert Payment.objects.get().status == "succeeded"


def test_change_cart_page_button_unlocks_and_returns_to_cart(
    client, make_cart, shipping_method, localstripe, mug_and_hoodie
):
    mug, _ = mug_and_hoodie
    cart = make_cart(lines=((mug, 1),))
    session = client.session
    session["cart_id"] = str(cart.pk)
    session.save()
    checkout, _ = services.checkout_start(cart=cart, email="g@example.com")
    checkout = services.checkout_set_shipping_address(
        checkout=checkout, address=ADDRESS
    )
    checkout = services.checkout_set_shipping_method(
        checkout=checkout, method_id=shipping_method.pk
    )
    started = services.checkout_payment_start(checkout=checkout)

    r = client.post("/checkout/change-cart/", follow=True)

    assert r.redirect_chain[-1][0] == "/cart/"
    assert "The payment was cancelled" in r.content.decode()
    assert Cart.objects.get(pk=cart.pk).locked_at is None
    assert Payment.objects.get(intent_id=started.payment_intent_id).status == (
        "canceled"
    )
    r = client.post("/cart/add/", {"sku": "HOODIE", "quantity": 1})
    assert cart.lines.count() == 2
