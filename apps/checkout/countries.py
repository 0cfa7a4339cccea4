"""The countries the shop delivers to: those some active shipping method's
zone serves, for the shipping address form.

A shopper who picks a country no method serves only learns it a step later
("no delivery to this address"); listing served countries only avoids that.
The billing address may be anywhere, so its form keeps every country.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache

from apps.accounts.selectors import country_choices
from apps.checkout.models import ShippingMethod

_CACHE_KEY = "checkout:served-countries:v1"


def served_countries_invalidate() -> None:
    cache.delete(_CACHE_KEY)


def served_country_choices() -> list[tuple[str, str]]:
    """(code, name) of each served country once, by name, the shop's main
    market (``SHOP_MAIN_COUNTRY``) first. Every country when no zone serves
    any yet (a fresh install), so checkout is never a dead end."""
    choices = cache.get(_CACHE_KEY)
    if choices is None:
        served: set[str] = set()
        for countries in ShippingMethod.objects.filter(is_active=True).values_list(
            "zone__countries", flat=True
        ):
            served.update(str(c).upper() for c in countries or [])
        every = country_choices()
        choices = [c for c in every if c[0] in served] or every
        main = settings.SHOP_MAIN_COUNTRY
        choices.sort(key=lambda choice: (choice[0] != main, choice[1]))
        cache.set(_CACHE_KEY, choices, 3600)
    return choices
