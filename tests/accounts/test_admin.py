import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

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
