"""Account page licence section and its actions; the guest purchase pages."""

import re

import pytest

from apps.subscriptions.licence_models import LicenceDevice, LicenceKey, SubscribeFlow
from apps.subscriptions.services import licences
from apps.subscriptions.services.licence_verify import licence_verify
from tests.accounts.factories import UserFactory
from tests.subscriptions.factories import SubscriptionFactory

pytestmark = pytest.mark.django_db

KEY = re.compile(r"([0-9A-F]{4}-){7}[0-9A-F]{4}")


def issue(user=None, devices=1):
    sub = SubscriptionFactory(
        status="active",
        price__plan__features={"devices": 3},
        **({"user": user} if user else {}),
    )
    issued = licences.licence_issue(subscription_id=sub.pk, email_key=False)
    for n in range(devices):
        licence_verify(key=issued.key, device_id=f"device-{n}")
    return issued


def test_account_page_lists_keys_with_devices_in_constant_queries(
    client, django_assert_num_queries
):
    issued = issue()
    user = issued.licence.user
    client.force_login(user)
    client.get("/account/subscription/")  # warm the session and caches

    # The page's own 6 (session, user, subscription, its scheduled change,
    # invoices, plans offered) + keys + their devices.
    with django_assert_num_queries(8) as one:
        page = client.get("/account/subscription/").content.decode()
    assert "Licence keys" in page
    assert issued.licence.masked in page
    assert "device-0" in page
    assert issued.key not in page

    for _ in range(4):
        other = issue()
        LicenceKey.objects.filter(pk=other.licence.pk).update(user=user)
    with django_assert_num_queries(len(one.captured_queries)):
        client.get("/account/subscription/")


def test_rotate_page_shows_the_new_key_once(client):
    issued = issue()
    client.force_login(issued.licence.user)

    r = client.post(f"/account/licences/{issued.licence.pk}/rotate/")

    assert r.status_code == 200
    assert r["Cache-Control"] == "no-store"
    new_key = KEY.search(r.content.decode()).group(0)
    assert licence_verify(key=new_key, device_id="x").status == "valid"
    assert licence_verify(key=issued.key, device_id="x").status == "revoked"
    again = client.post(f"/account/licences/{issued.licence.pk}/rotate/")
    assert again.status_code == 302  # revoked already: a message, not a key


def test_release_page_frees_the_seat_and_others_get_404(client):
    issued = issue()
    device = LicenceDevice.objects.get()
    url = f"/account/licences/{issued.licence.pk}/devices/{device.pk}/release/"
    client.force_login(UserFactory())
    assert client.post(url).status_code == 404
    assert (
        client.post(f"/account/licences/{issued.licence.pk}/rotate/").status_code == 404
    )

    client.force_login(issued.licence.user)
    assert client.post(url).status_code == 302
    device.refresh_from_db()
    assert device.released_at is not None


@pytest.mark.localstripe
def test_guest_pages_start_pay_and_show_status(client, pushed_price):
    price = pushed_price(amount=1100)
    assert client.get(f"/subscribe/guest/{price.pk}/").status_code == 200

    r = client.post(f"/subscribe/guest/{price.pk}/", {"email": "page@example.com"})

    flow = SubscribeFlow.objects.get(email="page@example.com")
    assert r.url == f"/subscribe/guest/flow/{flow.token}/"
    page = client.get(r.url).content.decode()
    assert 'id="payment-form"' in page
    assert "data-client-secret=" in page
    # Returning before paying changes nothing.
    assert client.get(f"{r.url}return/").status_code == 302
    flow.refresh_from_db()
    assert flow.status == "awaiting_payment"


def test_guest_page_bad_email_is_a_form_error(client):
    price = SubscriptionFactory().price
    r = client.post(f"/subscribe/guest/{price.pk}/", {"email": "nope"})
    assert r.status_code == 200
    assert r.context["form"].errors["email"]
    assert not SubscribeFlow.objects.exists()


def test_bad_sign_in_link_is_refused(client):
    user = UserFactory()
    r = client.post(f"/subscribe/guest/sign-in/{user.pk}/not-a-token/")
    assert r.status_code == 400
    assert "_auth_user_id" not in client.session


def test_admin_licence_changelist_and_detail_load(client, django_user_model):
    issued = issue()
    staff = django_user_model.objects.create_superuser(
        email="staff@example.com", password="pw"
    )
    client.force_login(staff)
    assert client.get("/admin/subscriptions/licencekey/").status_code == 200
    detail = client.get(f"/admin/subscriptions/licencekey/{issued.licence.pk}/change/")
    assert detail.status_code == 200
    assert issued.licence.key_hash not in detail.content.decode()
    assert client.get("/admin/subscriptions/subscribeflow/").status_code == 200
