"""Admin display helpers: money read from ``*_minor`` fields shown in units.

Staff read 19.99, never 1999; the currency's exponent decides the places.
"""

from collections.abc import Callable
from typing import Any

from django.contrib import admin

from apps.core.money import Money


def money_text(amount_minor: int | None, currency: str) -> str:
    """Return ``amount_minor`` formatted in ``currency`` ("$19.99", "1,200 JPY")."""
    return Money(int(amount_minor or 0), currency).format()


def money_column(
    field: str, description: str, *, currency_from: str = "currency", sort: bool = False
) -> Callable[[Any, Any], str]:
    """An admin column (or read-only field) showing ``field`` as money.

    ``currency_from`` is the dotted path to the row's currency ("order.currency"
    for a line, which has none of its own).
    """

    def column(self: Any, obj: Any) -> str:
        currency = obj
        for part in currency_from.split("."):
            currency = getattr(currency, part)
        return money_text(getattr(obj, field), currency)

    return admin.display(description=description, ordering=field if sort else None)(
        column
    )


class RecordAdminMixin:
    """A record of what happened: staff can read it, never add or delete it.

    Removing the delete permission also removes the "delete selected" bulk
    action from the changelist.
    """

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False
