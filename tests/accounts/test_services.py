import pytest

from apps.accounts.models import Address
from apps.accounts.services import (
    AddressData,
    address_create,
    address_delete,
    address_update,
    user_profile_update,
)
from apps.core.exceptions import ValidationFailed
from tests.accounts.factories import AddressFactory, UserFactory

pytestmark = pytest.mark.django_db


def _us(**overrides) -> AddressData:
    values = {
        "name": "Ada Lovelace",
        "line1": "1600 Amphitheatre Pkwy",
        "city": "Mountain View",
        "region": "California",
        "postal_code": "94043",
        "country": "us",
        "phone": "(650) 253-0000",
    }
    values.update(overrides)
    return AddressData(**values)


def test_user_profile_update_saves_stripped_name():
    user = UserFactory(name="")

    user_profile_update(user=user, name="  Grace Hopper ")

    user.refresh_from_db()
    assert user.name == "Grace Hopper"


def test_user_profile_update_too_long_name_raises():
    user = UserFactory(name="Kept")

    with pytest.raises(ValidationFailed) as exc:
        user_profile_update(user=user, name="x" * 151)

    assert "name" in exc.value.details["fields"]
    user.refresh_from_db()
    assert user.name == "Kept"


def test_address_create_normalises_country_region_and_phone():
    user = UserFactory()

    address = address_create(user=user, data=_us())

    assert address.country == "US"
    assert address.region == "CA"
    assert address.phone == "+16502530000"
    assert address.user == user


def test_address_create_us_postal_code_letters_raises_field_error():
    user = UserFactory()

    with pytest.raises(ValidationFailed) as exc:
        address_create(user=user, data=_us(postal_code="ABC"))

    fields = exc.value.details["fields"]
    assert fields == {
        "postal_code": ["Enter a valid postal code for United States, e.g. 95014."]
    }
    assert not Address.objects.exists()


def test_address_create_missing_city_and_postcode_for_uk_raises_both():
    with pytest.raises(ValidationFailed) as exc:
        address_create(
            user=UserFactory(),
            data=AddressData(name="A", line1="10 Downing St", country="GB"),
        )

    fields = exc.value.details["fields"]
    assert set(fields) == {"city", "postal_code"}
    assert "required for United Kingdom" in fields["city"][0]


def test_address_create_country_without_postal_codes_accepts_none():
    address = address_create(
        user=UserFactory(),
        data=AddressData(name="A", line1="1 Main Road", city="Dublin", country="IE"),
    )
    assert address.postal_code == ""


def test_address_create_invalid_phone_raises():
    with pytest.raises(ValidationFailed) as exc:
        address_create(user=UserFactory(), data=_us(phone="12"))

    assert list(exc.value.details["fields"]) == ["phone"]


def test_address_create_unknown_country_raises():
    with pytest.raises(ValidationFailed) as exc:
        address_create(user=UserFactory(), data=_us(country="ZZ"))

    assert exc.value.details["fields"]["country"] == ["Choose a valid country."]


def test_address_create_default_moves_flag_from_previous_default():
    user = UserFactory()
    old = AddressFactory(user=user, is_default_shipping=True, is_default_billing=True)

    new = address_create(user=user, data=_us(is_default_shipping=True))

    old.refresh_from_db()
    assert new.is_default_shipping is True
    assert old.is_default_shipping is False
    assert old.is_default_billing is True  # billing default untouched


def test_address_create_default_leaves_other_users_alone():
    other = AddressFactory(is_default_shipping=True)

    address_create(user=UserFactory(), data=_us(is_default_shipping=True))

    other.refresh_from_db()
    assert other.is_default_shipping is True


def test_address_update_replaces_fields_and_defaults():
    user = UserFactory()
    first = AddressFactory(user=user, is_default_billing=True)
    second = AddressFactory(user=user)

    address_update(
        address=second, data=_us(line1="1 Infinite Loop", is_default_billing=True)
    )

    first.refresh_from_db()
    second.refresh_from_db()
    assert second.line1 == "1 Infinite Loop"
    assert second.is_default_billing is True
    assert first.is_default_billing is False


def test_address_update_invalid_keeps_row_unchanged():
    address = AddressFactory(postal_code="94043")

    with pytest.raises(ValidationFailed):
        address_update(address=address, data=_us(postal_code="ABC"))

    address.refresh_from_db()
    assert address.postal_code == "94043"


def test_address_delete_removes_row():
    address = AddressFactory()

    address_delete(address=address)

    assert not Address.objects.filter(pk=address.pk).exists()
