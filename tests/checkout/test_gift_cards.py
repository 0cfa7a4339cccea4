"""Gift cards bought through the page checkout, and gift card codes entered
at checkout (redeemed into the wallet, then spent on the order)."""

import datetime
import re

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from apps.billing.models import Payment, PaymentRefund
from apps.checkout import services
from apps.checkout.exceptions import RefundNotPossible
from apps.checkout.models import Checkout, Order
from apps.wallets import services as wallet_services
from apps.wallets.models import GiftCard, LedgerEntry, Wallet
from apps.wallets.selectors import wallets_with_drift
from apps.wallets.tasks import send_due_gift_cards
from tests.accounts.factories import UserFactory
from tests.checkout.conftest import ADDRESS, confirm_card, idem
from tests.inventory.factories import VariantFactory

pytestmark = [pytest.mark.localstripe, pytest.mark.django_db]

CODE = re.compile(r"[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}")


def gift_card_variant(price_minor=5_000):
    return VariantFactory(
        price_minor=price_minor, weight_grams=0, track_stock=False, is_gift_card=True
    )


def _to_payment(checkout, shipping_method=None):
    """Billing (and shipping) by the services; the page steps are tested
    elsewhere."""
    if shipping_method is None:
        return services.checkout_set_billing_address(
            checkout=checkout, same_as_shipping=False, address=ADDRESS
        )
    checkout = services.checkout_set_shipping_address(
        checkout=checkout, address=ADDRESS
    )
    return services.checkout_set_shipping_method(
        checkout=checkout, method_id=shipping_method.pk
    )


def _pay_by_card_on_the_page(client, checkout, card="4242424242424242"):
    page = reverse("checkout:payment", args=[checkout.pk])
    assert client.post(page).status_code == 302
    order = Order.objects.get(checkout=checkout)
    payment = Payment.objects.get(reference=order.number)
    confirm_card(payment.intent_id, card)
    r = client.get(reverse("checkout:complete", args=[checkout.pk]))
    assert r.status_code == 302
    order.refresh_from_db()
    return order, payment


def test_gift_card_bought_through_page_checkout_is_mailed_on_send_date_and_spent_over_two_orders(  # noqa: E501
    client, make_cart, shipping_method, localstripe, django_capture_on_commit_callbacks
):
    buyer = UserFactory(email="buyer@example.com")
    client.force_login(buyer)
    cart = make_cart(lines=((gift_card_variant(5_000), 1),), user=buyer)
    checkout, _ = services.checkout_start(cart=cart, user=buyer)
    send_on = timezone.localdate() + datetime.timedelta(days=3)

    email_page = reverse("checkout:email", args=[checkout.pk])
    assert "Gift card delivery" in client.get(email_page).content.decode()
    r = client.post(
        email_page,
        {
            "email": buyer.email,
            "gift_recipient_email": "Friend@Example.com",
            "gift_message": "Happy birthday",
            "gift_send_on": send_on.isoformat(),
        },
    )
    assert r.status_code == 302
    checkout = _to_payment(Checkout.objects.get(pk=checkout.pk))
    with django_capture_on_commit_callbacks(execute=True):
        order, _ = _pay_by_card_on_the_page(client, checkout)

    assert order.status == "paid"
    assert (order.requires_shipping, order.shipping_minor) == (False, 0)
    card = GiftCard.objects.get()
    assert (card.initial_minor, card.currency) == (5_000, "USD")
    assert (card.recipient_email, card.purchaser) == ("friend@example.com", buyer)
    assert mail.outbox[0].to == [buyer.email]  # the order confirmation only
    mail.outbox.clear()

    # The beat task sends nothing before the day, the code on the day.
    assert send_due_gift_cards() == 0
    with (
        time_machine.travel(card.send_at + datetime.timedelta(minutes=5)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert send_due_gift_cards() == 1
        assert send_due_gift_cards() == 0
    by_recipient = {m.to[0]: m for m in mail.outbox}
    assert set(by_recipient) == {"friend@example.com", "buyer@example.com"}
    [code] = CODE.findall(by_recipient["friend@example.com"].body)
    assert not CODE.findall(by_recipient["buyer@example.com"].body)

    # The friend redeems: a double submit of the page and a replayed API
    # request (same Idempotency-Key, then a fresh one) give one entry.
    friend = UserFactory(email="friend@example.com")
    client.force_login(friend)
    redeem_page = reverse("wallets:gift-card-redeem")
    assert client.post(redeem_page, {"code": code}).status_code == 302
    assert client.post(redeem_page, {"code": code}).status_code == 302
    api = APIClient()
    api.force_authenticate(friend)
    key = idem()
    replies = [
        api.post("/api/v1/gift-cards/redeem/", {"code": code}, format="json", **k)
        for k in (key, key, idem())
    ]
    assert [r.status_code for r in replies] == [200, 200, 200]
    assert {r.json()["balance"]["amount"] for r in replies} == {5_000}
    redeemed = LedgerEntry.objects.filter(kind="gift_card_redeem")
    assert redeemed.count() == 1
    wallet = Wallet.objects.get(user=friend, currency="USD")
    assert wallet.balance_minor == 5_000

    # Spent in parts: 25.00 pays a first order in full, the last 25.00 part
    # of a second order of 40.00, whose card part is 15.00.
    first_cart = make_cart(
        lines=((VariantFactory(stock=5, weight_grams=100, price_minor=2_000), 1),),
        user=friend,
    )
    first, _ = services.checkout_start(cart=first_cart, user=friend)
    first = services.checkout_set_email(checkout=first, email=friend.email)
    first = _to_payment(first, shipping_method)
    client.post(reverse("checkout:payment", args=[first.pk]))
    first_order = Order.objects.get(checkout=first)
    assert (first_order.status, first_order.credit_minor) == ("paid", 2_500)

    second_cart = make_cart(
        lines=((VariantFactory(stock=5, weight_grams=100, price_minor=3_500), 1),),
        user=friend,
    )
    second, _ = services.checkout_start(cart=second_cart, user=friend)
    second = services.checkout_set_email(checkout=second, email=friend.email)
    second = _to_payment(second, shipping_method)
    second_order, second_payment = _pay_by_card_on_the_page(client, second)
    assert (second_order.status, second_order.credit_minor) == ("paid", 2_500)
    assert second_payment.amount_minor == 1_500

    wallet.refresh_from_db()
    assert (wallet.balance_minor, wallet.held_minor) == (0, 0)
    assert list(wallet.entries.order_by("pk").values_list("kind", "amount_minor")) == [
        ("gift_card_redeem", 5_000),
        ("order_hold", -2_500),
        ("order_capture", 0),
        ("order_hold", -2_500),
        ("order_capture", 0),
    ]
    assert wallets_with_drift() == []


def test_gift_delivery_send_day_in_the_past_is_a_form_error(client, make_cart):
    buyer = UserFactory()
    client.force_login(buyer)
    cart = make_cart(lines=((gift_card_variant(), 1),), user=buyer)
    checkout, _ = services.checkout_start(cart=cart, user=buyer)
    r = client.post(
        reverse("checkout:email", args=[checkout.pk]),
        {
            "email": buyer.email,
            "gift_send_on": (timezone.localdate() - datetime.timedelta(days=1)),
        },
    )
    assert r.status_code == 400
    assert "Choose today or a later day." in r.content.decode()
    assert Checkout.objects.get().gift_send_on is None


def test_email_step_without_gift_cards_has_no_gift_fields(client, make_cart):
    cart = make_cart()
    checkout, _ = services.checkout_start(cart=cart, user=None)
    session = client.session
    session["cart_id"] = str(cart.pk)
    session.save()
    r = client.get(reverse("checkout:email", args=[checkout.pk]))
    assert "Gift card delivery" not in r.content.decode()


def _issued(amount_minor=3_000, key="cs-1"):
    return wallet_services.gift_card_issue(
        amount_minor=amount_minor, currency="USD", issue_key=key
    )


@pytest.fixture
def signed_in_checkout(make_cart, shipping_method):
    user = UserFactory()
    cart = make_cart(
        lines=((VariantFactory(stock=5, weight_grams=100, price_minor=2_000), 1),),
        user=user,
    )
    checkout, _ = services.checkout_start(cart=cart, user=user)
    checkout = services.checkout_set_email(checkout=checkout, email=user.email)
    return _to_payment(checkout, shipping_method)


def test_gift_card_code_at_checkout_page_redeems_into_wallet_and_spends_it(
    client, signed_in_checkout
):
    checkout = signed_in_checkout
    client.force_login(checkout.user)
    issued = _issued(1_000)
    page = reverse("checkout:payment", args=[checkout.pk])
    assert 'name="code"' in client.get(page).content.decode()

    r = client.post(
        reverse("checkout:gift-card", args=[checkout.pk]),
        {"code": issued.code.lower()},
        follow=True,
    )

    html = r.content.decode()
    assert "$10.00 was added to your store credit." in html
    assert 'data-total="store-credit">−$10.00' in html
    assert 'data-total="to-pay-by-card">$15.00' in html
    wallet = Wallet.objects.get(user=checkout.user)
    assert wallet.balance_minor == 1_000


def test_gift_card_code_at_checkout_api_credits_once_and_totals_show_the_split(
    api_client, signed_in_checkout
):
    checkout = signed_in_checkout
    api_client.force_authenticate(checkout.user)
    issued = _issued(4_000)
    url = f"/api/v1/checkouts/{checkout.pk}/gift-card/"

    first = api_client.post(url, {"code": issued.code}, format="json", **idem())
    again = api_client.post(url, {"code": issued.code}, format="json", **idem())

    assert first.status_code == again.status_code == 200, first.content
    totals = again.json()["totals"]
    assert totals["store_credit"] == {"amount": 2_500, "currency": "USD"}
    assert totals["to_pay_by_card"] == {"amount": 0, "currency": "USD"}
    assert LedgerEntry.objects.filter(kind="gift_card_redeem").count() == 1
    assert Wallet.objects.get(user=checkout.user).balance_minor == 4_000


def test_gift_card_code_at_checkout_unknown_and_used_up_answer_alike(
    api_client, signed_in_checkout
):
    checkout = signed_in_checkout
    api_client.force_authenticate(checkout.user)
    issued = _issued()
    wallet_services.gift_card_redeem(code=issued.code, user=UserFactory())
    url = f"/api/v1/checkouts/{checkout.pk}/gift-card/"

    used_up = api_client.post(url, {"code": issued.code}, format="json")
    unknown = api_client.post(url, {"code": "ACDE-FGHJ-KMNP-QRTU"}, format="json")

    assert used_up.status_code == unknown.status_code == 400
    assert used_up.json() == unknown.json()
    assert used_up.json()["error"]["code"] == "gift_card_invalid"
    assert not Wallet.objects.filter(user=checkout.user).exists()


def test_gift_card_code_at_guest_checkout_asks_to_sign_in_and_changes_nothing(
    api_client, client, make_cart
):
    cart = make_cart()
    checkout, _ = services.checkout_start(cart=cart, user=None)
    issued = _issued()

    r = api_client.post(
        f"/api/v1/checkouts/{checkout.pk}/gift-card/",
        {"code": issued.code},
        format="json",
    )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "wallet_amount_invalid"
    assert "Sign in" in r.json()["error"]["message"]

    session = client.session
    session["cart_id"] = str(cart.pk)
    session.save()
    page = client.post(
        reverse("checkout:gift-card", args=[checkout.pk]),
        {"code": issued.code},
        follow=True,
    )
    assert "Sign in to use a gift card" in page.content.decode()
    issued.card.refresh_from_db()
    assert issued.card.balance_minor == 3_000
    assert not LedgerEntry.objects.exists()


def test_gift_card_codes_at_checkout_share_the_guessing_limit(
    api_client, signed_in_checkout
):
    checkout = signed_in_checkout
    api_client.force_authenticate(checkout.user)
    url = f"/api/v1/checkouts/{checkout.pk}/gift-card/"
    answers = [
        api_client.post(url, {"code": f"ACDEFGHJKMNPQR{c}{c}"}, format="json")
        for c in "ACDEFGHJKMNPQRTUVWXY"
    ]
    assert [r.status_code for r in answers[:10]] == [400] * 10
    assert {r.status_code for r in answers[10:]} == {429}
    # The redeem API counts the same guesses.
    redeem = api_client.post(
        "/api/v1/gift-cards/redeem/", {"code": "ACDEFGHJKMNPQRTU"}, format="json"
    )
    assert redeem.status_code == 429


# --- refunding an order that bought gift cards -------------------------------


def _buy_gift_card(client, make_cart, buyer, django_capture_on_commit_callbacks):
    client.force_login(buyer)
    cart = make_cart(lines=((gift_card_variant(5_000), 1),), user=buyer)
    checkout, _ = services.checkout_start(cart=cart, user=buyer)
    checkout = _to_payment(Checkout.objects.get(pk=checkout.pk))
    with django_capture_on_commit_callbacks(execute=True):
        order, _ = _pay_by_card_on_the_page(client, checkout)
    assert order.status == "paid"
    return order


def test_refunding_a_gift_card_order_voids_the_unused_card(
    client, make_cart, localstripe, django_capture_on_commit_callbacks
):
    buyer = UserFactory()
    order = _buy_gift_card(client, make_cart, buyer, django_capture_on_commit_callbacks)
    card = GiftCard.objects.get()

    services.order_refund(order=order)

    card.refresh_from_db()
    order.refresh_from_db()
    assert (card.status, card.balance_minor, card.code_encrypted) == ("void", 0, "")
    assert order.refunded_minor == order.total_minor == 5_000
    assert PaymentRefund.objects.get().amount_minor == 5_000


def test_a_redeemed_gift_card_order_cannot_be_refunded_and_nothing_moves(
    client, make_cart, localstripe, django_capture_on_commit_callbacks
):
    # Otherwise the buyer would hold the credit and have the money back too.
    buyer = UserFactory()
    order = _buy_gift_card(client, make_cart, buyer, django_capture_on_commit_callbacks)
    [code] = {c for m in mail.outbox for c in CODE.findall(m.body)}
    wallet_services.gift_card_redeem(code=code, user=buyer)

    with pytest.raises(RefundNotPossible, match="already been redeemed"):
        services.order_refund(order=order)

    order.refresh_from_db()
    assert (order.status, order.refunded_minor) == ("paid", 0)
    assert not PaymentRefund.objects.exists()
    assert Wallet.objects.get(user=buyer).balance_minor == 5_000
    assert GiftCard.objects.get().status == "active"
