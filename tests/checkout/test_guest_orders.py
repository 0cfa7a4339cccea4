"""Guest orders: the confirmation email's signed link, and guest orders joining
the account once the shopper has signed in and verified that email."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail

from apps.checkout import selectors
from apps.checkout.exceptions import OrderNotFound
from apps.checkout.models import Order
from tests.accounts.factories import PASSWORD, UserFactory
from tests.checkout.conftest import api_checkout_to_payment, confirm_card, idem
from tests.checkout.test_views import make_order

pytestmark = pytest.mark.django_db


def listed_numbers(client) -> list[str]:
    r = client.get("/checkout/orders/")
    assert r.status_code == 200
    return re.findall(r'data-number="([^"]+)"', r.content.decode())


def link_path(body: str) -> str:
    match = re.search(r"http://testserver(/\S+)", body)
    assert match, body
    return match.group(1)


@pytest.mark.localstripe
def test_guest_purchase_email_link_then_signup_and_verify_claims_order(
    client,
    api_client,
    make_cart,
    shipping_method,
    localstripe,
    django_capture_on_commit_callbacks,
):
    session = api_checkout_to_payment(
        api_client, make_cart(), email="buyer@example.com", method=shipping_method
    )
    confirm_card(session["payment_intent_id"])
    with django_capture_on_commit_callbacks(execute=True):
        r = api_client.post(
            f"/api/v1/checkouts/{session['checkout_id']}/complete/",
            format="json",
            **idem(),
        )
    number = r.json()["number"]
    (confirmation,) = mail.outbox
    path = link_path(confirmation.body)

    page = client.get(path)
    assert page.status_code == 200
    assert f'data-testid="order-number">{number}<' in page.content.decode()
    assert "Paid" in page.content.decode()

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(
            "/accounts/signup/",
            {
                "email": "buyer@example.com",
                "password1": PASSWORD,
                "password2": PASSWORD,
            },
        )
    # Not signed in before the address is confirmed (enumeration
    # prevention), so nothing of the guest order shows yet.
    assert r.status_code == 302
    assert r["Location"] == "/accounts/confirm-email/"
    assert "_auth_user_id" not in client.session
    assert client.get(f"/checkout/orders/{number}/").status_code == 404

    (verification,) = mail.outbox
    confirm_path = link_path(verification.body)
    assert client.post(confirm_path).status_code == 302
    assert EmailAddress.objects.get(email="buyer@example.com").verified

    assert listed_numbers(client) == [number]
    detail = client.get(f"/checkout/orders/{number}/")
    assert detail.status_code == 200
    assert number in detail.content.decode()


def test_guest_orders_existing_user_unverified_email_not_shown(client):
    user = UserFactory(email="shopper@example.com")
    EmailAddress.objects.create(user=user, email=user.email, verified=False)
    guest = make_order(email="shopper@example.com")
    client.force_login(user)

    assert listed_numbers(client) == []
    assert client.get(f"/checkout/orders/{guest.number}/").status_code == 404


def test_guest_orders_existing_user_logs_in_after_verifying_shown(client):
    user = UserFactory(email="shopper@example.com")
    EmailAddress.objects.create(user=user, email=user.email, verified=True)
    guest = make_order(email="shopper@example.com")
    own = make_order(user=user, email=user.email)

    r = client.post(
        "/accounts/login/", {"login": "shopper@example.com", "password": PASSWORD}
    )

    assert r.status_code == 302
    assert set(listed_numbers(client)) == {guest.number, own.number}
    assert client.get(f"/checkout/orders/{guest.number}/").status_code == 200


def test_guest_orders_second_verified_address_claims_its_orders(client):
    user = UserFactory(email="main@example.com")
    EmailAddress.objects.create(user=user, email="main@example.com", verified=True)
    EmailAddress.objects.create(user=user, email="old@example.com", verified=True)
    EmailAddress.objects.create(user=user, email="typo@example.com", verified=False)
    old = make_order(email="old@example.com")
    make_order(email="typo@example.com")
    client.force_login(user)

    assert listed_numbers(client) == [old.number]


def test_guest_orders_email_case_differs_still_claimed(client):
    user = UserFactory(email="mixed@example.com")
    EmailAddress.objects.create(user=user, email="mixed@example.com", verified=True)
    guest = make_order(email="Mixed@Example.COM")
    client.force_login(user)

    assert listed_numbers(client) == [guest.number]


def test_guest_orders_pending_and_other_users_orders_never_claimed(client):
    user = UserFactory(email="me@example.com")
    EmailAddress.objects.create(user=user, email="me@example.com", verified=True)
    make_order(email="me@example.com", status="pending_payment")
    someone = make_order(user=UserFactory(), email="me@example.com")
    client.force_login(user)

    assert listed_numbers(client) == []
    assert client.get(f"/checkout/orders/{someone.number}/").status_code == 404


def test_order_get_for_user_verified_guest_order_returned_with_lines():
    user = UserFactory(email="sel@example.com")
    EmailAddress.objects.create(user=user, email="sel@example.com", verified=True)
    order = make_order(email="sel@example.com", lines=2)

    found = selectors.order_get_for_user(user=user, number=order.number)

    assert found.pk == order.pk
    assert [line.title for line in found.lines.all()] == ["Mug 0", "Mug 1"]
    EmailAddress.objects.filter(user=user).update(verified=False)
    with pytest.raises(OrderNotFound):
        selectors.order_get_for_user(user=user, number=order.number)
    assert Order.objects.filter(pk=order.pk, user__isnull=True).exists()
