"""Account reads."""

from django.db.models import QuerySet

from apps.accounts.models import Address, User
from apps.core.exceptions import NotFound


def address_list_for_user(*, user: User) -> QuerySet[Address]:
    return Address.objects.filter(user=user).order_by(
        "-is_default_shipping", "-is_default_billing", "id"
    )


def address_get_for_user(*, user: User, address_id: int) -> Address:
    """Return one of the user's addresses; raise NotFound for anyone else's."""
    try:
        return Address.objects.get(pk=address_id, user=user)
    except Address.DoesNotExist:
        raise NotFound("Address not found.", code="address_not_found") from None
