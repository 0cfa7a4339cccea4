"""The browser path: subscribe page → card step → return that syncs."""

import pytest

from apps.subscriptions.models import Subscription
from tests.accounts.factories import UserFactory
from tests.subscriptions.conftest import confirm

pytestmark = [pytest.mark.localstripe, pytest.mark.django_db]


def test_subscribe_post_then_card_step_then_return_is_active(client, pushed_price):
    user = UserFactory()
    client.force_login(user)
    price = pushed_price(amount=2500)

    started = client.post(f"/subscribe/{price.pk}/")

    sub = Subscription.objects.get(user=user)
    assert started["Location"] == f"/subscriptions/{sub.pk}/pay/"
    page = client.get(started["Location"]).content.decode()
    secret = page.split('data-client-secret="')[1].split('"')[0]
    assert secret.startswith("pi_")
    assert "$25.00" in page
    assert f"/subscriptions/{sub.pk}/return/" in page
    confirm(secret)  # what Stripe.js does in the browser
    back = client.get(f"/subscriptions/{sub.pk}/return/")
    assert back["Location"] == f"/subscriptions/{sub.pk}/"
    sub.refresh_from_db()
    assert sub.status == "active"
    assert "is active" in client.get(back["Location"]).content.decode()


def test_subscribe_post_when_subscribed_lands_on_pricing_with_message(
    client, pushed_price
):
    user = UserFactory()
    client.force_login(user)
    client.post(f"/subscribe/{pushed_price().pk}/")
    sub = Subscription.objects.get(user=user)
    page = client.get(f"/subscriptions/{sub.pk}/pay/").content.decode()
    confirm(page.split('data-client-secret="')[1].split('"')[0])
    client.get(f"/subscriptions/{sub.pk}/return/")

    response = client.post(f"/subscribe/{pushed_price().pk}/", follow=True)

    assert response.redirect_chain[-1][0] == "/pricing/"
    assert "already have a subscription" in response.content.decode()


def test_card_step_of_another_users_subscription_is_404(client, pushed_price):
    owner = UserFactory()
    client.force_login(owner)
    client.post(f"/subscribe/{pushed_price().pk}/")
    sub = Subscription.objects.get(user=owner)
    client.force_login(UserFactory())

    assert client.get(f"/subscriptions/{sub.pk}/pay/").status_code == 404
    assert client.get(f"/subscriptions/{sub.pk}/return/").status_code == 404


def test_subscribe_page_with_coupon_shows_discounted_first_payment(
    client, pushed_price
):
    from tests.coupons.factories import CouponFactory

    user = UserFactory()
    client.force_login(user)
    price = pushed_price(amount=2500)
    coupon = CouponFactory(for_subscriptions=True, value=2000)

    started = client.post(f"/subscribe/{price.pk}/", {"coupon": coupon.code})

    page = client.get(started["Location"]).content.decode()
    first = page.split('data-testid="first-payment">')[1].split("<")[0]
    assert first == "$20.00"
    assert "then $25.00 every month" in page


def test_subscribe_page_orders_only_coupon_is_form_error(client, pushed_price):
    from tests.coupons.factories import CouponFactory

    user = UserFactory()
    client.force_login(user)
    coupon = CouponFactory()

    response = client.post(f"/subscribe/{pushed_price().pk}/", {"coupon": coupon.code})

    assert response.status_code == 400
    assert "cannot be used on subscriptions" in response.content.decode()
    assert f'value="{coupon.code}"' in response.content.decode()
    assert not Subscription.objects.filter(user=user).exists()
