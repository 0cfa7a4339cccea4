import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.accounts.models import Address
from tests.accounts.factories import AddressFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize("model", ["user", "address"])
def test_admin_changelist_loads(staff_client, model):
    AddressFactory.create_batch(3)

    response = staff_client.get(reverse(f"admin:accounts_{model}_changelist"))

    assert response.status_code == 200


def test_admin_address_changelist_query_count_does_not_grow(staff_client):
    url = reverse("admin:accounts_address_changelist")
    AddressFactory()
    with CaptureQueriesContext(connection) as one:
        staff_client.get(url)
    AddressFactory.create_batch(4)

    with CaptureQueriesContext(connection) as five:
        response = staff_client.get(url)

    assert response.content.count(b'class="field-line1"') == 5
    assert len(five) == len(one)


def test_admin_address_change_page_loads(staff_client):
    address = AddressFactory()

    response = staff_client.get(
        reverse("admin:accounts_address_change", args=[address.pk])
    )

    assert response.status_code == 200
    assert b"1600 Amphitheatre Pkwy" in response.content


def _admin_form(address, **changes):
    data = {
        "user": address.user_id,
        "name": address.name,
        "line1": address.line1,
        "line2": "",
        "city": address.city,
        "region": address.region,
        "postal_code": address.postal_code,
        "country": address.country,
        "phone": "",
    }
    return data | changes


def test_admin_address_edit_with_bad_postal_code_shows_error_and_keeps_row(
    staff_client,
):
    address = AddressFactory()
    url = reverse("admin:accounts_address_change", args=[address.pk])

    response = staff_client.post(url, _admin_form(address, postal_code="ABCDE"))

    assert response.status_code == 200
    assert "Enter a valid postal code for" in response.content.decode()
    address.refresh_from_db()
    assert address.postal_code == "94043"


def test_admin_address_edit_is_normalized_like_the_shoppers_own(staff_client):
    address = AddressFactory()
    url = reverse("admin:accounts_address_change", args=[address.pk])

    response = staff_client.post(
        url, _admin_form(address, region="california", phone="(415) 555-0100")
    )

    assert response.status_code == 302
    address.refresh_from_db()
    assert (address.region, address.phone) == ("CA", "+14155550100")


def test_admin_new_default_address_takes_the_flag_from_the_old_one(staff_client):
    old = AddressFactory(is_default_shipping=True)

    response = staff_client.post(
        reverse("admin:accounts_address_add"),
        _admin_form(old, line1="1 Infinite Loop", make_default_shipping="on"),
    )

    assert response.status_code == 302
    old.refresh_from_db()
    new = Address.objects.exclude(pk=old.pk).get()
    assert (old.is_default_shipping, new.is_default_shipping) == (False, True)
    assert new.line1 == "1 Infinite Loop"


def test_admin_address_edit_without_a_name_says_so_next_to_the_field(staff_client):
    address = AddressFactory()
    url = reverse("admin:accounts_address_change", args=[address.pk])

    response = staff_client.post(url, _admin_form(address, name=""))

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    address.refresh_from_db()
    assert address.name == "Ada Lovelace"
