"""Spending store credit at checkout: the split payment saga on localstripe.

The credit part is held with the stock, the card part paid through a real
PaymentIntent at localstripe; success captures, failure releases, an order
that cannot be fulfilled refunds the card and releases the credit, and
refunds follow the split. ``wallets_reconcile`` finds no drift after each.
"""

from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from apps.billing import signals
from apps.billing.exceptions import PaymentDeclined
from apps.billing.models import Payment, PaymentRefund
from apps.checkout import services
from apps.checkout.models import Checkout, Order
from apps.checkout.services.pricing import PricingReads
from apps.checkout.services.refunds import refund_split
from apps.inventory import services as inventory_services
from apps.inventory.models import Reservation, StockItem
from apps.inventory.services import ReservationRequest
from apps.wallets import services as wallet_services
from apps.wallets.models import LedgerEntry, Wallet
from tests.accounts.factories import UserFactory
from tests.checkout.conftest import (
    ADDRESS,
    api_checkout_to_payment,
    confirm_card,
    idem,
)
from tests.checkout.factories import OrderFactory
from tests.inventory.factories import VariantFactory

pytestmark = [pytest.mark.localstripe, pytest.mark.django_db]

K = LedgerEntry.Kind


def credit_shopper(amount_minor: int):
    user = UserFactory()
    wallet_services.wallet_credit(
        user=user,
        currency="USD",
        amount_minor=amount_minor,
        kind=K.GOODWILL,
        idempotency_key=f"goodwill-{user.pk}",
    )
    return user


def wallet_of(user) -> Wallet:
    return Wallet.objects.get(user=user, currency="USD")


def kinds(user) -> list[str]:
    return list(
        LedgerEntry.objects.filter(wallet__user=user)
        .order_by("pk")
        .values_list("kind", flat=True)
    )


def assert_reconciled() -> None:
    out = StringIO()
    call_command("wallets_reconcile", stdout=out)
    assert "0 drift" in out.getvalue()


@pytest.fixture
def shopper(api_client):
    user = credit_shopper(1500)
    api_client.force_authenticate(user)
    return user


@pytest.fixture
def split_session(api_client, shopper, make_cart, shipping_method, localstripe):
    """A signed-in checkout of 25.00 (20.00 + 5.00 shipping) that spends its
    15.00 of credit and owes 10.00 by card; payment started."""
    variant = VariantFactory(stock=5, weight_grams=100, price_minor=2000)
    cart = make_cart(lines=((variant, 1),), user=shopper)
    session = api_checkout_to_payment(
        api_client, cart, email=shopper.email, method=shipping_method
    )
    return {**session, "variant": variant}


def _complete(api_client, checkout_id):
    return api_client.post(
        f"/api/v1/checkouts/{checkout_id}/complete/", format="json", **idem()
    )


def test_payment_start_holds_credit_and_asks_the_card_for_the_rest(
    split_session, shopper
):
    assert split_session["amount"] == {"amount": 1000, "currency": "USD"}
    assert Payment.objects.get().amount_minor == 1000
    order = Order.objects.get()
    assert (order.total_minor, order.credit_minor, order.card_minor) == (
        2500,
        1500,
        1000,
    )
    wallet = wallet_of(shopper)
    assert (wallet.balance_minor, wallet.held_minor) == (0, 1500)
    assert kinds(shopper) == [K.GOODWILL, K.ORDER_HOLD]
    assert_reconciled()


def test_payment_start_again_keeps_one_hold(api_client, split_session, shopper):
    r = api_client.post(
        f"/api/v1/checkouts/{split_session['checkout_id']}/payment/",
        format="json",
        **idem(),
    )

    assert r.status_code == 200, r.content
    assert r.json()["payment_intent_id"] == split_session["payment_intent_id"]
    assert kinds(shopper) == [K.GOODWILL, K.ORDER_HOLD]


def test_totals_after_payment_start_count_the_checkouts_own_hold_once(
    split_session,
):
    checkout = Checkout.objects.select_related("cart", "user").get()
    reads = PricingReads()

    first = services.checkout_totals(checkout=checkout, reads=reads)
    again = services.checkout_totals(checkout=checkout, reads=reads)

    assert first.credit_minor == again.credit_minor == 1500
    assert first.fingerprint() == checkout.totals_fingerprint


def test_split_payment_succeeds_and_captures_the_credit(
    api_client, split_session, shopper
):
    confirm_card(split_session["payment_intent_id"])

    r = _complete(api_client, split_session["checkout_id"])

    assert r.status_code == 200, r.content
    assert r.json()["totals"]["store_credit"]["amount"] == 1500
    assert r.json()["totals"]["to_pay_by_card"]["amount"] == 1000
    order = Order.objects.get()
    assert order.status == "paid"
    wallet = wallet_of(shopper)
    assert (wallet.balance_minor, wallet.held_minor) == (0, 0)
    assert kinds(shopper) == [K.GOODWILL, K.ORDER_HOLD, K.ORDER_CAPTURE]
    assert StockItem.objects.get(variant=split_session["variant"]).on_hand == 4
    assert_reconciled()


def test_card_part_declined_releases_the_hold_and_a_retry_takes_it_again(
    api_client, split_session, shopper
):
    with pytest.raises(PaymentDeclined):  # what the SDK sees
        confirm_card(split_session["payment_intent_id"], "4000000000000002")

    r = _complete(api_client, split_session["checkout_id"])

    assert r.status_code == 402, r.content
    wallet = wallet_of(shopper)
    assert (wallet.balance_minor, wallet.held_minor) == (1500, 0)
    assert kinds(shopper) == [K.GOODWILL, K.ORDER_HOLD, K.ORDER_RELEASE]
    assert Order.objects.get().status == "pending_payment"
    assert_reconciled()

    # The shopper pays again: payment start holds the credit again.
    r = api_client.post(
        f"/api/v1/checkouts/{split_session['checkout_id']}/payment/",
        format="json",
        **idem(),
    )
    assert r.status_code == 200, r.content
    confirm_card(r.json()["payment_intent_id"])
    assert _complete(api_client, split_session["checkout_id"]).status_code == 200

    assert Order.objects.get().status == "paid"
    assert wallet_of(shopper).balance_minor == 0
    assert kinds(shopper)[-2:] == [K.ORDER_HOLD, K.ORDER_CAPTURE]
    assert_reconciled()


def test_card_retry_on_the_same_intent_after_decline_holds_again_on_success(
    api_client, split_session, shopper
):
    with pytest.raises(PaymentDeclined):  # what the SDK sees
        confirm_card(split_session["payment_intent_id"], "4000000000000002")
    assert _complete(api_client, split_session["checkout_id"]).status_code == 402
    # Stripe.js retries the same intent with another card, no payment start.
    confirm_card(split_session["payment_intent_id"])

    assert _complete(api_client, split_session["checkout_id"]).status_code == 200

    assert Order.objects.get().status == "paid"
    wallet = wallet_of(shopper)
    assert (wallet.balance_minor, wallet.held_minor) == (0, 0)
    assert kinds(shopper)[-2:] == [K.ORDER_HOLD, K.ORDER_CAPTURE]
    assert_reconciled()


def test_stock_lost_after_card_succeeded_refunds_card_releases_credit_emails_once(
    split_session, shopper, django_capture_on_commit_callbacks
):
    variant = split_session["variant"]
    Reservation.objects.filter(status="active").update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    inventory_services.stock_reserve(
        items=[ReservationRequest(variant.pk, 5)],
        ref="elsewhere",
        ttl=timedelta(minutes=5),
    )
    inventory_services.stock_commit(ref="elsewhere")
    confirm_card(split_session["payment_intent_id"])

    with django_capture_on_commit_callbacks(execute=True):
        for event_id in ("evt_1", "evt_2"):  # redelivered: compensated once
            signals.payment_succeeded.send(
                sender="billing",
                payment_intent_id=split_session["payment_intent_id"],
                amount_minor=1000,
                currency="USD",
                metadata={},
                event_id=event_id,
            )

    order = Order.objects.get()
    assert order.status == "cancelled"
    assert PaymentRefund.objects.get().amount_minor == 1000  # the card part
    assert order.refunded_minor == 1000
    wallet = wallet_of(shopper)
    assert (wallet.balance_minor, wallet.held_minor) == (1500, 0)
    assert kinds(shopper) == [K.GOODWILL, K.ORDER_HOLD, K.ORDER_RELEASE]
    assert [m.subject for m in mail.outbox] == [
        f"Sorry: we could not fulfil order {order.number}"
    ]
    assert "is back in your account" in mail.outbox[0].body
    assert_reconciled()


def test_order_paid_fully_by_credit_needs_no_intent_and_completes_at_once(
    api_client, make_cart, shipping_method, localstripe
):
    user = credit_shopper(5000)
    api_client.force_authenticate(user)
    variant = VariantFactory(stock=5, weight_grams=100, price_minor=2000)
    cart = make_cart(lines=((variant, 1),), user=user)

    session = api_checkout_to_payment(
        api_client, cart, email=user.email, method=shipping_method
    )

    assert session["amount"]["amount"] == 0
    assert session["client_secret"] == ""
    assert session["status"] == "succeeded"
    assert not Payment.objects.exists()
    order = Order.objects.get()
    assert (order.status, order.credit_minor) == ("paid", 2500)
    assert Checkout.objects.get(pk=session["checkout_id"]).state == "completed"
    assert StockItem.objects.get(variant=variant).on_hand == 4
    assert wallet_of(user).balance_minor == 2500
    assert _complete(api_client, session["checkout_id"]).json()["status"] == "paid"
    assert_reconciled()


def test_refund_of_an_order_paid_fully_by_credit_goes_back_to_the_wallet_once(
    api_client, make_cart, shipping_method, localstripe
):
    user = credit_shopper(5000)
    api_client.force_authenticate(user)
    cart = make_cart(
        lines=((VariantFactory(stock=5, weight_grams=100, price_minor=2000), 1),),
        user=user,
    )
    api_checkout_to_payment(api_client, cart, email=user.email, method=shipping_method)
    order = Order.objects.get()
    stale = Order.objects.get()

    order = services.order_refund(order=order)
    again = services.order_refund_apply(  # a double submission
        order_id=stale.pk,
        refund=None,
        plan={},
        split=refund_split(order=stale, amount_minor=2500),
        wallet_key=f"refund:{stale.number}:0:2500:wallet",
    )

    assert (order.status, order.refunded_minor, order.credit_refunded_minor) == (
        "refunded",
        2500,
        2500,
    )
    assert again.refunded_minor == 2500
    assert not PaymentRefund.objects.exists()
    assert wallet_of(user).balance_minor == 5000
    assert kinds(user).count(K.REFUND_CREDIT) == 1
    assert_reconciled()


def _paid_split_order(api_client, shopper, make_cart, shipping_method):
    """Paid: 2 × 20.00 + 5.00 shipping = 45.00, 15.00 credit, 30.00 card."""
    variant = VariantFactory(stock=5, weight_grams=100, price_minor=2000)
    cart = make_cart(lines=((variant, 2),), user=shopper)
    session = api_checkout_to_payment(
        api_client, cart, email=shopper.email, method=shipping_method
    )
    confirm_card(session["payment_intent_id"])
    assert _complete(api_client, session["checkout_id"]).status_code == 200
    return Order.objects.get(number=session["order_number"])


def test_partial_refund_of_split_order_returns_credit_first_then_card(
    api_client,
    shopper,
    make_cart,
    shipping_method,
    localstripe,
    django_capture_on_commit_callbacks,
):
    order = _paid_split_order(api_client, shopper, make_cart, shipping_method)
    line = order.lines.get()

    with django_capture_on_commit_callbacks(execute=True):
        order = services.order_refund(order=order, line_quantities={line.pk: 1})

    # One unit is 20.00: 15.00 back to the wallet, 5.00 to the card.
    assert (order.refunded_minor, order.credit_refunded_minor) == (2000, 1500)
    assert order.status == "partially_refunded"
    assert PaymentRefund.objects.get().amount_minor == 500
    assert wallet_of(shopper).balance_minor == 1500
    assert kinds(shopper)[-1] == K.REFUND_CREDIT
    assert "as store credit" in mail.outbox[-1].body
    assert_reconciled()

    order = services.order_refund(order=order)  # the rest: card only

    assert order.status == "refunded"
    assert sorted(PaymentRefund.objects.values_list("amount_minor", flat=True)) == [
        500,
        2500,
    ]
    assert wallet_of(shopper).balance_minor == 1500
    assert_reconciled()


def test_staff_refund_card_part_as_store_credit_moves_no_card_money(
    api_client, shopper, make_cart, shipping_method, localstripe
):
    order = _paid_split_order(api_client, shopper, make_cart, shipping_method)

    order = services.order_refund(
        order=order,
        line_quantities={order.lines.get().pk: 1},
        credit_first=False,
        card_as_credit=True,
    )

    assert (order.refunded_minor, order.credit_refunded_minor) == (2000, 0)
    assert not PaymentRefund.objects.exists()
    assert wallet_of(shopper).balance_minor == 2000
    assert_reconciled()


@pytest.mark.parametrize(
    ("credit_first", "amount", "expected"),
    [
        (True, 1000, (1000, 0)),
        (True, 2000, (1500, 500)),
        (False, 2000, (0, 2000)),
        (False, 4000, (1000, 3000)),
    ],
)
def test_refund_split_follows_the_payment_split(credit_first, amount, expected):
    order = OrderFactory.build(total_minor=4500, credit_minor=1500)

    split = refund_split(order=order, amount_minor=amount, credit_first=credit_first)

    assert (split.from_credit_minor, split.from_card_minor) == expected


def test_refund_split_counts_what_each_part_already_refunded():
    order = OrderFactory.build(
        total_minor=4500,
        credit_minor=1500,
        refunded_minor=2000,
        credit_refunded_minor=1500,
    )

    split = refund_split(order=order, amount_minor=2500)

    assert (split.from_credit_minor, split.from_card_minor) == (0, 2500)


# --- choosing the amount (API) -------------------------------------------------


def _credit_post(api_client, checkout_id, amount):
    return api_client.post(
        f"/api/v1/checkouts/{checkout_id}/store-credit/",
        {"amount": amount},
        format="json",
        **idem(),
    )


@pytest.fixture
def signed_in_checkout(api_client, shopper, make_cart, shipping_method):
    cart = make_cart(
        lines=((VariantFactory(stock=5, price_minor=2000), 1),), user=shopper
    )
    r = api_client.post(
        "/api/v1/checkouts/", {"cart": str(cart.pk)}, format="json", **idem()
    )
    assert r.status_code in (200, 201), r.content
    return r.json()


def test_totals_spend_all_credit_by_default(signed_in_checkout):
    totals = signed_in_checkout["totals"]

    assert totals["store_credit"]["amount"] == 1500
    assert totals["to_pay_by_card"]["amount"] == totals["total"]["amount"] - 1500


def test_store_credit_choose_less_then_none(api_client, signed_in_checkout):
    checkout_id = signed_in_checkout["id"]

    r = _credit_post(api_client, checkout_id, 1000)
    assert r.status_code == 200, r.content
    assert r.json()["totals"]["store_credit"]["amount"] == 1000

    r = _credit_post(api_client, checkout_id, 0)
    assert r.json()["totals"]["store_credit"]["amount"] == 0

    r = _credit_post(api_client, checkout_id, None)
    assert r.json()["totals"]["store_credit"]["amount"] == 1500


@pytest.mark.parametrize(
    ("amount", "code"),
    [(1501, "wallet_insufficient_credit"), (-1, "validation_error")],
)
def test_store_credit_bad_amount_is_refused_and_changes_nothing(
    api_client, signed_in_checkout, amount, code
):
    r = _credit_post(api_client, signed_in_checkout["id"], amount)

    assert r.status_code == 400, r.content
    assert r.json()["error"]["code"] == code
    assert Checkout.objects.get().credit_requested_minor is None


def test_store_credit_for_a_guest_checkout_is_refused(make_cart):
    client = APIClient()
    cart = make_cart()
    checkout_id = client.post(
        "/api/v1/checkouts/",
        {"cart": str(cart.pk), "email": "g@example.com"},
        format="json",
        **idem(),
    ).json()["id"]

    r = _credit_post(client, checkout_id, 100)

    assert r.status_code == 400
    assert r.json()["error"]["code"] == "wallet_amount_invalid"


# --- staff and pages -----------------------------------------------------------


def test_admin_refund_as_store_credit_credits_the_wallet(
    client, api_client, shopper, make_cart, shipping_method, localstripe
):
    order = _paid_split_order(api_client, shopper, make_cart, shipping_method)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = client.get(reverse("admin:checkout_order_change", args=[order.pk]))
    assert "paid with store credit" in page.content.decode().lower()
    url = reverse("admin:checkout_order_refund", args=[order.pk])
    assert "store credit" in client.get(url).content.decode()

    r = client.post(url, {"destination": "store_credit"})

    assert r.status_code == 302, r.content
    order.refresh_from_db()
    assert (order.status, order.refunded_minor) == ("refunded", 4500)
    assert not PaymentRefund.objects.exists()
    assert wallet_of(shopper).balance_minor == 4500
    assert_reconciled()


def test_payment_page_shows_credit_and_the_form_chooses_the_amount(
    client, shopper, make_cart, shipping_method
):
    client.force_login(shopper)
    cart = make_cart(
        lines=((VariantFactory(stock=5, weight_grams=100, price_minor=2000), 1),),
        user=shopper,
    )
    checkout, _ = services.checkout_start(cart=cart, user=shopper)
    checkout = services.checkout_set_email(checkout=checkout, email=shopper.email)
    checkout = services.checkout_set_shipping_address(
        checkout=checkout, address=ADDRESS
    )
    services.checkout_set_shipping_method(
        checkout=checkout, method_id=shipping_method.pk
    )
    page = reverse("checkout:payment", args=[checkout.pk])

    html = client.get(page).content.decode()
    assert 'data-total="store-credit">−$15.00' in html
    assert 'data-total="to-pay-by-card">$10.00' in html

    r = client.post(
        reverse("checkout:store-credit", args=[checkout.pk]), {"amount": "5"}
    )

    assert r.status_code == 302
    assert r.url == page
    html = client.get(page).content.decode()
    assert 'data-total="store-credit">−$5.00' in html
    assert Checkout.objects.get().credit_requested_minor == 500


def test_payment_page_order_paid_fully_by_credit_lands_on_the_order(
    client, make_cart, shipping_method
):
    user = credit_shopper(5000)
    client.force_login(user)
    cart = make_cart(
        lines=((VariantFactory(stock=5, weight_grams=100, price_minor=2000), 1),),
        user=user,
    )
    checkout, _ = services.checkout_start(cart=cart, user=user)
    checkout = services.checkout_set_email(checkout=checkout, email=user.email)
    checkout = services.checkout_set_shipping_address(
        checkout=checkout, address=ADDRESS
    )
    services.checkout_set_shipping_method(
        checkout=checkout, method_id=shipping_method.pk
    )
    page = reverse("checkout:payment", args=[checkout.pk])
    assert "Pay with store credit" in client.get(page).content.decode()

    r = client.post(page, follow=True)

    order = Order.objects.get()
    assert (order.status, order.credit_minor) == ("paid", 2500)
    assert r.status_code == 200
    token = r.redirect_chain[-1][0].rstrip("/").rsplit("/", 1)[-1]
    assert services.orders.order_number_from_token(token) == order.number
    assert not Payment.objects.exists()
    assert wallet_of(user).balance_minor == 2500
    assert_reconciled()


def test_more_credit_after_a_card_payment_started_cancels_the_intent_and_pays(
    api_client, make_cart, shipping_method, localstripe
):
    user = credit_shopper(5000)
    api_client.force_authenticate(user)
    cart = make_cart(
        lines=((VariantFactory(stock=5, weight_grams=100, price_minor=2000), 1),),
        user=user,
    )
    r = api_client.post(
        "/api/v1/checkouts/",
        {"cart": str(cart.pk), "email": user.email},
        format="json",
        **idem(),
    )
    checkout_id = r.json()["id"]
    assert _credit_post(api_client, checkout_id, 0).status_code == 200
    session = api_checkout_to_payment(
        api_client, cart, email=user.email, method=shipping_method
    )
    assert session["amount"]["amount"] == 2500  # all by card

    assert _credit_post(api_client, checkout_id, None).status_code == 200
    r = api_client.post(
        f"/api/v1/checkouts/{checkout_id}/payment/", format="json", **idem()
    )

    assert r.status_code == 200, r.content
    assert r.json()["amount"]["amount"] == 0
    assert Payment.objects.get().status == "canceled"
    order = Order.objects.get()
    assert (order.status, order.credit_minor) == ("paid", 2500)
    assert wallet_of(user).balance_minor == 2500
    assert_reconciled()


def test_payment_page_card_form_asks_only_the_card_part(
    client, shopper, make_cart, shipping_method, localstripe
):
    client.force_login(shopper)
    cart = make_cart(
        lines=((VariantFactory(stock=5, weight_grams=100, price_minor=2000), 1),),
        user=shopper,
    )
    checkout, _ = services.checkout_start(cart=cart, user=shopper)
    checkout = services.checkout_set_email(checkout=checkout, email=shopper.email)
    checkout = services.checkout_set_shipping_address(
        checkout=checkout, address=ADDRESS
    )
    services.checkout_set_shipping_method(
        checkout=checkout, method_id=shipping_method.pk
    )
    page = reverse("checkout:payment", args=[checkout.pk])

    assert client.post(page).status_code == 302
    html = client.get(page).content.decode()

    assert 'id="card-element"' in html
    assert "Pay $10.00" in html
    assert 'data-total="store-credit">−$15.00' in html
    assert wallet_of(shopper).held_minor == 1500
