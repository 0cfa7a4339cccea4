"""GET never writes on the checkout pages: crawlers, link prefetch and reloads
change nothing. Entering payment is a POST ("Continue to payment") that
reserves stock, places the pending order and creates the intent, then
redirects (PRG) to the payment page, whose GET only renders that intent."""

import pytest

from apps.billing import gateway
from apps.billing.models import Payment
from apps.checkout import services
from apps.checkout.models import Checkout, Order
from apps.core.models import AuditLog
from apps.inventory.models import Reservation
from tests.checkout.conftest import ADDRESS

pytestmark = pytest.mark.django_db

STEPS = ["email", "shipping-address", "billing-address", "shipping-method", "payment"]


def _intents_at_stripe() -> int:
    client = gateway._client()
    return sum(
        1 for _ in client.v1.payment_intents.list({"limit": 100}).auto_paging_iter()
    )


def _rows() -> dict:
    return {
        "checkouts": Checkout.objects.count(),
        "orders": Order.objects.count(),
        "reservations": Reservation.objects.count(),
        "payments": Payment.objects.count(),
        "audit": AuditLog.objects.count(),
        "intents_at_stripe": _intents_at_stripe(),
    }


@pytest.fixture
def ready_checkout(client, make_cart, shipping_method):
    """A guest checkout with every step done, payment not started."""
    cart = make_cart()
    session = client.session
    session["cart_id"] = str(cart.pk)
    session.save()
    checkout, _ = services.checkout_start(cart=cart, email="g@example.com")
    checkout = services.checkout_set_shipping_address(
        checkout=checkout, address=ADDRESS
    )
    return services.checkout_set_shipping_method(
        checkout=checkout, method_id=shipping_method.pk
    )


@pytest.mark.parametrize("started", [False, True], ids=["before", "after_start"])
def test_checkout_pages_get_writes_no_row_nor_intent(
    client, ready_checkout, localstripe, started
):
    if started:
        services.checkout_payment_start(checkout=ready_checkout)
    before = _rows()

    for step in STEPS:
        for _ in range(2):  # a reload too
            r = client.get(f"/checkout/{ready_checkout.pk}/{step}/")
            assert r.status_code == 200, (step, r.status_code)

    assert _rows() == before


def test_checkout_payment_get_without_started_payment_shows_review_not_card_form(
    client, ready_checkout, localstripe
):
    r = client.get(f"/checkout/{ready_checkout.pk}/payment/")

    html = r.content.decode()
    assert 'id="start-payment-form"' in html
    assert "Continue to payment" in html
    assert 'id="payment-form"' not in html
    assert Order.objects.count() == 0


def test_checkout_payment_post_starts_payment_then_redirects_to_card_form(
    client, ready_checkout, localstripe
):
    url = f"/checkout/{ready_checkout.pk}/payment/"

    r = client.post(url)

    assert r.status_code == 302
    assert r["Location"] == url
    order = Order.objects.get()
    payment = Payment.objects.get()
    assert Reservation.objects.filter(status="active").count() == 1
    page = client.get(url).content.decode()
    assert f'data-client-secret="{payment.client_secret}"' in page
    assert order.number in page
    # Posting again (back button, double click) keeps the one order and intent.
    assert client.post(url).status_code == 302
    assert Order.objects.count() == 1
    assert Payment.objects.count() == 1


def test_checkout_shipping_method_post_continues_into_payment_in_one_click(
    client, make_cart, shipping_method, localstripe
):
    cart = make_cart()
    session = client.session
    session["cart_id"] = str(cart.pk)
    session.save()
    checkout, _ = services.checkout_start(cart=cart, email="g@example.com")
    services.checkout_set_shipping_address(checkout=checkout, address=ADDRESS)

    r = client.post(
        f"/checkout/{checkout.pk}/shipping-method/",
        {"shipping_method": shipping_method.pk},
        follow=True,
    )

    assert r.redirect_chain[-1][0] == f"/checkout/{checkout.pk}/payment/"
    payment = Payment.objects.get()
    assert f'data-client-secret="{payment.client_secret}"' in r.content.decode()


def test_checkout_payment_get_after_step_changed_shows_review_not_stale_intent(
    client, ready_checkout, localstripe, tax_rate
):
    services.checkout_payment_start(checkout=ready_checkout)
    # The shopper goes back and changes the address: the total may change,
    # so the old intent is not offered until payment is started again.
    services.checkout_set_shipping_address(
        checkout=ready_checkout, address={**ADDRESS, "line1": "1 Infinite Loop"}
    )
    checkout = Checkout.objects.get(pk=ready_checkout.pk)
    services.checkout_set_shipping_method(
        checkout=checkout, method_id=ready_checkout.shipping_method_id
    )

    html = client.get(f"/checkout/{ready_checkout.pk}/payment/").content.decode()

    assert 'id="start-payment-form"' in html
    assert 'id="payment-form"' not in html


def test_checkout_start_get_creates_no_checkout_and_offers_a_button(client, make_cart):
    cart = make_cart()
    session = client.session
    session["cart_id"] = str(cart.pk)
    session.save()

    r = client.get("/checkout/")

    assert r.status_code == 200
    assert "Start checkout" in r.content.decode()
    assert not Checkout.objects.filter(cart=cart).exists()
    started = client.post("/checkout/")
    assert started.status_code == 302
    assert Checkout.objects.filter(cart=cart).count() == 1
