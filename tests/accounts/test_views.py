"""Account pages: allauth's pages in the site layout, profile and addresses."""

import re

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.accounts.models import Address
from tests.accounts.factories import PASSWORD, AddressFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def user(client):
    user = UserFactory(email="page@example.com", name="Page User")
    client.force_login(user)
    return user


def _address_post(**overrides):
    data = {
        "name": "Ada Lovelace",
        "line1": "1600 Amphitheatre Pkwy",
        "line2": "",
        "city": "Mountain View",
        "region": "CA",
        "postal_code": "94043",
        "country": "US",
        "phone": "+1 650 253 0000",
    }
    data.update(overrides)
    return data


# --- allauth pages -------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/accounts/login/",
        "/accounts/signup/",
        "/accounts/password/reset/",
        "/accounts/login/code/",
    ],
)
def test_allauth_page_renders_in_site_layout(client, url):
    response = client.get(url)

    assert response.status_code == 200
    assert b'class="site-header"' in response.content
    assert b"css/site.css" in response.content


def test_signup_page_creates_user_and_mails_verification(
    client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/accounts/signup/",
            {
                "email": "Fresh@Example.com",
                "password1": PASSWORD,
                "password2": PASSWORD,
            },
        )

    # "Check your inbox", signed in only once the address is confirmed: a
    # registered address gets this same answer (enumeration prevention).
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert "_auth_user_id" not in client.session
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["fresh@example.com"]
    assert message.subject.startswith("[Shop] ")
    html = dict((mime, body) for body, mime in message.alternatives)["text/html"]
    assert "Confirm my email address" in html

    link = re.search(r"http://testserver(/accounts/confirm-email/\S+/)", message.body)
    confirmed = client.post(link.group(1))

    assert confirmed.status_code == 302
    assert confirmed["Location"] == reverse("accounts:profile")
    assert client.session["_auth_user_id"]


def test_signup_page_mismatched_passwords_shows_error_next_to_field(client):
    response = client.post(
        "/accounts/signup/",
        {"email": "x@example.com", "password1": PASSWORD, "password2": "other-pass-1"},
    )

    assert response.status_code == 200
    assert b"You must type the same password each time." in response.content


def test_login_page_wrong_password_shows_message(client):
    user = UserFactory()

    response = client.post(
        "/accounts/login/", {"login": user.email, "password": "wrong-password"}
    )

    assert response.status_code == 200
    assert b"The email address and/or password you specified are not correct." in (
        response.content
    )


def test_login_page_sixth_wrong_password_shows_throttle_message(client):
    user = UserFactory()
    for _ in range(5):
        client.post("/accounts/login/", {"login": user.email, "password": "nope-1"})

    response = client.post(
        "/accounts/login/", {"login": user.email, "password": "nope-1"}
    )

    assert b"Too many failed login attempts. Try again later." in response.content
    assert b"are not correct" not in response.content
    # Even the right password is refused while throttled.
    response = client.post(
        "/accounts/login/", {"login": user.email, "password": PASSWORD}
    )
    assert b"Too many failed login attempts" in response.content
    assert "_auth_user_id" not in client.session


def test_login_page_success_redirects_to_account_page(client):
    user = UserFactory(verified_email=True)

    response = client.post(
        "/accounts/login/", {"login": user.email, "password": PASSWORD}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:profile")


def test_password_reset_page_mails_reset_link(
    client, django_capture_on_commit_callbacks
):
    user = UserFactory(email="reset@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/password/reset/", {"email": user.email})

    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert "/accounts/password/reset/key/" in mail.outbox[0].body


def test_password_change_page_changes_password(client, user):
    response = client.post(
        "/accounts/password/change/",
        {
            "oldpassword": PASSWORD,
            "password1": "brand-new-pass-42",
            "password2": "brand-new-pass-42",
        },
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("brand-new-pass-42")


# --- profile -------------------------------------------------------------------


def test_profile_anonymous_redirects_to_login(client):
    response = client.get(reverse("accounts:profile"))

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_profile_shows_email_name_and_addresses(client, user):
    AddressFactory(user=user, line1="42 Galaxy Way")

    response = client.get(reverse("accounts:profile"))

    assert response.status_code == 200
    assert b"page@example.com" in response.content
    assert b'value="Page User"' in response.content
    assert b"42 Galaxy Way" in response.content


def test_profile_post_updates_name_and_redirects(client, user):
    response = client.post(reverse("accounts:profile"), {"name": "Renamed"})

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:profile")
    user.refresh_from_db()
    assert user.name == "Renamed"
    page = client.get(response["Location"])
    assert b"Your profile was saved." in page.content


def test_profile_post_too_long_name_shows_error(client, user):
    response = client.post(reverse("accounts:profile"), {"name": "x" * 151})

    assert response.status_code == 200
    assert b"Ensure this value has at most 150 characters" in response.content


def test_profile_query_count_does_not_grow_with_addresses(client, user):
    AddressFactory(user=user)
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("accounts:profile"))
    AddressFactory.create_batch(4, user=user)

    with CaptureQueriesContext(connection) as five:
        response = client.get(reverse("accounts:profile"))

    assert response.content.count(b"Amphitheatre") == 5
    assert len(five) == len(one)


# --- addresses -------------------------------------------------------------------


def test_address_add_valid_redirects_and_lists(client, user):
    response = client.post(reverse("accounts:address-add"), _address_post())

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:address-list")
    address = Address.objects.get(user=user)
    assert address.phone == "+16502530000"
    page = client.get(response["Location"])
    assert b"1600 Amphitheatre Pkwy" in page.content
    assert b"Address saved." in page.content


def test_address_add_us_postal_code_abc_shows_error_next_to_field(client, user):
    response = client.post(
        reverse("accounts:address-add"), _address_post(postal_code="ABC")
    )

    assert response.status_code == 200
    html = response.content.decode()
    field = html[html.index('id="field-postal_code"') :]
    field = field[: field.index("</div>")]
    assert "Enter a valid postal code for United States, e.g. 95014." in field
    assert not Address.objects.exists()


def test_address_add_missing_required_parts_shows_errors(client, user):
    response = client.post(
        reverse("accounts:address-add"),
        _address_post(country="GB", city="", postal_code="", region=""),
    )

    html = response.content.decode()
    assert "Enter the city; it is required for United Kingdom." in html
    assert "Enter the postal code; it is required for United Kingdom." in html


def test_address_add_bad_phone_shows_error(client, user):
    response = client.post(reverse("accounts:address-add"), _address_post(phone="123"))

    assert b"Enter a valid phone number" in response.content
    assert not Address.objects.exists()


def test_address_edit_updates_row(client, user):
    address = AddressFactory(user=user)

    response = client.post(
        reverse("accounts:address-edit", args=[address.pk]),
        _address_post(line1="1 Infinite Loop", is_default_shipping="on"),
    )

    assert response.status_code == 302
    address.refresh_from_db()
    assert address.line1 == "1 Infinite Loop"
    assert address.is_default_shipping is True


def test_address_edit_form_prefilled(client, user):
    address = AddressFactory(user=user, line1="77 Prefill Rd")

    response = client.get(reverse("accounts:address-edit", args=[address.pk]))

    assert b'value="77 Prefill Rd"' in response.content


def test_address_edit_someone_elses_returns_404(client, user):
    other = AddressFactory()

    response = client.post(
        reverse("accounts:address-edit", args=[other.pk]), _address_post()
    )

    assert response.status_code == 404
    other.refresh_from_db()
    assert other.line1 == "1600 Amphitheatre Pkwy"


def test_address_delete_confirms_then_deletes(client, user):
    address = AddressFactory(user=user)

    confirm = client.get(reverse("accounts:address-delete", args=[address.pk]))
    response = client.post(reverse("accounts:address-delete", args=[address.pk]))

    assert confirm.status_code == 200
    assert response.status_code == 302
    assert not Address.objects.filter(pk=address.pk).exists()


def test_address_delete_someone_elses_returns_404(client, user):
    other = AddressFactory()

    response = client.post(reverse("accounts:address-delete", args=[other.pk]))

    assert response.status_code == 404
    assert Address.objects.filter(pk=other.pk).exists()


def test_address_add_over_rate_limit_returns_429_page(client, user):
    for _ in range(30):
        client.post(reverse("accounts:address-add"), _address_post(postal_code="ABC"))

    response = client.post(reverse("accounts:address-add"), _address_post())

    assert response.status_code == 429
    assert response["Retry-After"]
    assert b"Too many attempts" in response.content
    assert not Address.objects.exists()


def test_address_list_query_count_does_not_grow(client, user):
    AddressFactory(user=user)
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("accounts:address-list"))
    AddressFactory.create_batch(4, user=user)

    with CaptureQueriesContext(connection) as five:
        response = client.get(reverse("accounts:address-list"))

    assert response.content.count(b"Amphitheatre") == 5
    assert len(five) == len(one)
