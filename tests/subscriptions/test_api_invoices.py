import pytest

from tests.accounts.factories import UserFactory
from tests.subscriptions.factories import (
    InvoiceFactory,
    InvoiceLineFactory,
    SubscriptionFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def user_client(api_client):
    user = UserFactory()
    api_client.force_authenticate(user)
    api_client.user = user
    return api_client


def test_invoice_list_and_detail_only_own_in_minor_units(user_client):
    line = InvoiceLineFactory(
        invoice__subscription__user=user_client.user,
        invoice__total_minor=1999,
        amount_minor=1999,
        description="1 × Pro",
    )
    theirs = InvoiceFactory()

    listed = user_client.get("/api/v1/invoices/").json()
    detail = user_client.get(f"/api/v1/invoices/{line.invoice.pk}/").json()
    other = user_client.get(f"/api/v1/invoices/{theirs.pk}/")

    assert [i["id"] for i in listed] == [line.invoice.pk]
    assert listed[0]["total"] == {"amount": 1999, "currency": "USD"}
    assert detail["lines"][0]["description"] == "1 × Pro"
    assert detail["lines"][0]["amount"] == {"amount": 1999, "currency": "USD"}
    assert (other.status_code, other.json()["error"]["code"]) == (
        404,
        "invoice_not_found",
    )


@pytest.mark.parametrize("count", [1, 5])
def test_invoice_list_query_count_constant(
    user_client, django_assert_num_queries, count
):
    sub = SubscriptionFactory(user=user_client.user)
    for _ in range(count):
        InvoiceFactory(subscription=sub)

    with django_assert_num_queries(1):
        response = user_client.get("/api/v1/invoices/")

    assert len(response.json()) == count


def test_schema_documents_invoice_operations(api_client):
    paths = api_client.get("/api/schema/?format=json").json()["paths"]

    assert {"/api/v1/invoices/", "/api/v1/invoices/{invoice_id}/"} <= set(paths)


@pytest.mark.parametrize("count", [1, 5])
def test_invoices_page_lists_own_with_constant_queries(
    client, django_assert_num_queries, count
):
    sub = SubscriptionFactory()
    for _ in range(count):
        InvoiceFactory(subscription=sub)
    InvoiceFactory()  # someone else's
    client.force_login(sub.user)
    client.get("/account/invoices/")

    with django_assert_num_queries(3):
        response = client.get("/account/invoices/")

    assert response.content.decode().count("INV-") == count


def test_printable_invoice_page_shows_lines_and_totals_only_to_owner(client):
    line = InvoiceLineFactory(
        invoice__total_minor=2400,
        invoice__tax_minor=400,
        amount_minor=2000,
        description="1 × Pro",
    )
    client.force_login(line.invoice.user)

    page = client.get(f"/account/invoices/{line.invoice.pk}/").content.decode()

    assert "1 × Pro" in page
    assert "$20.00" in page
    assert "$24.00" in page
    client.force_login(UserFactory())
    assert client.get(f"/account/invoices/{line.invoice.pk}/").status_code == 404
