"""The shop's pricing setup, read once and cached: the tax settings, the tax
rates and the active shipping methods (zones and weight bands loaded).

Every checkout request prices with them and only staff change them, so
they are not read per request. One version number is part of the key: a
save or delete of any of these rows bumps it, now and again after commit
(as the catalogue page cache does), so a stale copy is never read again.
CONFIG_SECONDS bounds how long one could live after a change that sends no
signal (a queryset ``update()``), or in another process's local-memory cache
(the embedded setup; Redis is one cache for every process).

Each process also keeps the last setup it read, for as long as the version
is unchanged and the setup is younger than CONFIG_SECONDS: a checkout
request prices several times, and a round trip plus unpickling for each
cost more than the pricing itself. The version is still read every time,
so a change is seen at once as before; the objects are shared between
requests, so nothing may modify them (pricing only reads them).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db.models import Model, prefetch_related_objects
from django.db.models.signals import post_delete, post_save

from apps.checkout.models import (
    ShippingMethod,
    ShippingZone,
    TaxRate,
    TaxSettings,
    WeightBand,
)
from apps.core.cache_versions import cache_version, cache_version_bump

VERSION_KEY = "checkout:pricing-config-version"
CONFIG_SECONDS = 300
# v2: the setup carries the time it was read (older entries do not).
CONFIG_KEY = "checkout:pricing-config:v2:{version}"


@dataclass(frozen=True, slots=True)
class PricingConfig:
    prices_include_tax: bool
    # Every rate, in the model's order (country, region, name).
    tax_rates: tuple[TaxRate, ...]
    # The active methods in their order, zone loaded, weight bands prefetched
    # for the weight-priced ones.
    shipping_methods: tuple[ShippingMethod, ...]
    # time.time() when read from the database: no copy outlives CONFIG_SECONDS.
    loaded_at: float


def _load() -> PricingConfig:
    row = TaxSettings.objects.filter(pk=1).first()
    methods = list(ShippingMethod.objects.filter(is_active=True).select_related("zone"))
    prefetch_related_objects(
        [m for m in methods if m.rate_type == ShippingMethod.RateType.WEIGHT],
        "weight_bands",
    )
    return PricingConfig(
        prices_include_tax=bool(row and row.prices_include_tax),
        tax_rates=tuple(TaxRate.objects.all()),
        shipping_methods=tuple(methods),
        loaded_at=time.time(),
    )


# (version, setup) last read by this process.
_local: tuple[int, PricingConfig] | None = None


def pricing_config() -> PricingConfig:
    """Return the pricing setup, from the cache when it holds the current one."""
    global _local
    version = cache_version(VERSION_KEY)
    local = _local
    if (
        local is not None
        and local[0] == version
        and time.time() - local[1].loaded_at < CONFIG_SECONDS
    ):
        return local[1]
    key = CONFIG_KEY.format(version=version)
    config = cache.get(key)
    if config is None:
        config = _load()
        cache.set(key, config, CONFIG_SECONDS)
    _local = (version, config)
    return config


def pricing_config_changed() -> None:
    """Make the cached setup stale, now and again after commit."""
    cache_version_bump(VERSION_KEY)


def _changed(sender: type[Model], **kwargs: Any) -> None:
    pricing_config_changed()


def connect_signals() -> None:
    for model in (ShippingMethod, ShippingZone, TaxRate, TaxSettings, WeightBand):
        uid = f"checkout-pricing-config-{model.__name__}"
        post_save.connect(_changed, sender=model, dispatch_uid=f"{uid}-save")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"{uid}-delete")
