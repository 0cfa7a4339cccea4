"""Cache of the anonymous catalogue pages (list, product, home).

One version number for the whole catalogue is part of every key: any change
to a product, variant (price), image, category or stock level bumps it, so
every cached page is stale at once and simply never read again (it expires).
Reservations change what is available without bumping it; PAGE_SECONDS bounds
how long a page can show units that a checkout has since reserved (adding to
the cart always rechecks).
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.db.models.signals import post_delete, post_save

from apps.core.cache_versions import cache_version, cache_version_bump

VERSION_KEY = "inventory:catalogue-version"
PAGE_SECONDS = 60
# {% csrf_token %} in a cached page renders this; each response gets its own.
CSRF_PLACEHOLDER = "__CSRF_TOKEN_PLACEHOLDER__"


def catalogue_version() -> int:
    return cache_version(VERSION_KEY)


def catalogue_changed() -> None:
    """Make every cached catalogue page stale, now and again after commit."""
    cache_version_bump(VERSION_KEY)


def page_key(kind: str, *parts: Any) -> str:
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:32]
    return f"inventory:page:{catalogue_version()}:{kind}:{digest}"


def request_is_cacheable(request) -> bool:
    """Only anonymous GETs share pages: a signed-in page carries the user's email."""
    return request.method == "GET" and not request.user.is_authenticated


def _changed(sender, **kwargs) -> None:
    catalogue_changed()


def connect_signals() -> None:
    from apps.inventory.models import (
        Category,
        Product,
        ProductImage,
        StockItem,
        Variant,
    )

    for model in (Category, Product, ProductImage, StockItem, Variant):
        uid = f"inventory-page-cache-{model.__name__}"
        post_save.connect(_changed, sender=model, dispatch_uid=f"{uid}-save")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"{uid}-delete")
