"""Address forms carry the browser's autofill tokens, in the address book and
in checkout."""

import pytest

from apps.checkout.forms import AddressForm as CheckoutAddressForm
from apps.checkout.forms import EmailForm
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db

TOKENS = {
    "name": "name",
    "line1": "address-line1",
    "line2": "address-line2",
    "city": "address-level2",
    "region": "address-level1",
    "postal_code": "postal-code",
    "country": "country",
    "phone": "tel",
}


def test_address_book_form_fields_carry_autocomplete_tokens(client):
    client.force_login(UserFactory(verified_email=True))

    html = client.get("/account/addresses/new/").content.decode()

    for field, token in TOKENS.items():
        assert f'autocomplete="{token}"' in html, field
        assert f'name="{field}"' in html


def test_checkout_address_and_email_fields_carry_autocomplete_tokens():
    form = CheckoutAddressForm()
    rendered = {name: str(form[name]) for name in TOKENS}

    for field, token in TOKENS.items():
        assert f'autocomplete="{token}"' in rendered[field], field
    assert 'autocomplete="email"' in str(EmailForm()["email"])
