"""Products and recurring prices (Plans on localstripe, Prices on Stripe)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from apps.billing.gateway.client import (
    _client,
    _missing_as_none,
    _options,
    _require_real_stripe,
    _translate,
    is_localstripe,
)
from apps.billing.gateway.types import PriceSnapshot

if TYPE_CHECKING:
    from stripe.params import PriceCreateParams


def price_create(
    *,
    product: str,
    unit_amount_minor: int,
    currency: str,
    recurring_interval: str | None = None,
    idempotency_key: str,
) -> PriceSnapshot:
    """Create a Price (needs real Stripe: localstripe only has legacy Plans)."""
    _require_real_stripe("Prices API")
    params: PriceCreateParams = {
        "product": product,
        "unit_amount": unit_amount_minor,
        "currency": currency.lower(),
    }
    if recurring_interval:
        params["recurring"] = {"interval": recurring_interval}
    return PriceSnapshot.from_stripe(
        _translate(
            lambda: _client().v1.prices.create(
                params=params, options=_options(idempotency_key)
            )
        )
    )


@dataclass(frozen=True, slots=True)
class ProductSnapshot:
    id: str
    name: str
    active: bool


@dataclass(frozen=True, slots=True)
class RecurringPriceSnapshot:
    """A recurring price: a Price on real Stripe, a legacy Plan on localstripe."""

    id: str
    object: str  # "price" or "plan"
    product: str
    amount_minor: int
    currency: str
    interval: str
    interval_count: int
    active: bool


def recurring_price_object() -> str:
    """Which Stripe object holds a recurring price on the configured server.

    localstripe has no Prices API, only the legacy Plans (which real Stripe
    still accepts in subscriptions), so there we push Plans.
    """
    return "plan" if is_localstripe() else "price"


def _product_snapshot(product: Any) -> ProductSnapshot:
    return ProductSnapshot(
        id=product["id"],
        name=product["name"],
        active=product["active"] in (True, "true"),
    )


def product_upsert(
    *,
    product_id: str,
    name: str,
    description: str = "",
    active: bool = True,
    metadata: dict[str, str] | None = None,
) -> ProductSnapshot:
    """Create or update the Product with our deterministic id (idempotent)."""
    client = _client()
    fields: dict[str, Any] = {"name": name, "active": active}
    if description:
        fields["description"] = description
    if metadata:
        fields["metadata"] = metadata
    existing = _translate(
        lambda: _missing_as_none(lambda: client.v1.products.retrieve(product_id))
    )
    if existing is None:
        created = _translate(
            lambda: client.v1.products.create(
                params={"id": product_id, **fields},  # type: ignore[typeddict-item]
                options=_options(f"product-create-{product_id}"),
            )
        )
        return _product_snapshot(created)
    updated = _translate(
        lambda: client.v1.products.update(product_id, params=fields)  # type: ignore[arg-type]
    )
    return _product_snapshot(updated)


def product_retrieve(*, product_id: str) -> ProductSnapshot:
    return _product_snapshot(
        _translate(lambda: _client().v1.products.retrieve(product_id))
    )


def _recurring_snapshot(obj: Any, kind: str) -> RecurringPriceSnapshot:
    if kind == "plan":
        amount, interval, count = obj["amount"], obj["interval"], obj["interval_count"]
    else:
        recurring = obj["recurring"]
        amount = obj["unit_amount"]
        interval, count = recurring["interval"], recurring["interval_count"]
    product = obj["product"]
    return RecurringPriceSnapshot(
        id=obj["id"],
        object=kind,
        product=product if isinstance(product, str) else product["id"],
        amount_minor=int(amount),
        currency=str(obj["currency"]).upper(),
        interval=interval,
        interval_count=int(count),
        # localstripe stores an updated flag as the form string "false".
        active=obj["active"] in (True, "true"),
    )


def recurring_price_create(
    *,
    product_id: str,
    amount_minor: int,
    currency: str,
    interval: str,
    interval_count: int = 1,
    reference: str,
    metadata: dict[str, str] | None = None,
) -> RecurringPriceSnapshot:
    """Create the recurring price for our row ``reference``, at most once.

    On localstripe a Plan whose id is the reference (retried: the existing one
    is returned). On real Stripe a Price, with the reference as idempotency
    key (Prices take no custom id) and as metadata.
    """
    client = _client()
    kind = recurring_price_object()
    meta = {"reference": reference, **(metadata or {})}
    if kind == "plan":
        existing = _translate(
            lambda: _missing_as_none(lambda: client.v1.plans.retrieve(reference))
        )
        if existing is not None:
            return _recurring_snapshot(existing, "plan")
        plan = _translate(
            lambda: client.v1.plans.create(
                params={
                    "id": reference,
                    "product": product_id,
                    "amount": amount_minor,
                    "currency": currency.lower(),
                    "interval": interval,
                    "interval_count": interval_count,
                    "metadata": meta,
                },
                options=_options(f"plan-create-{reference}"),
            )
        )
        return _recurring_snapshot(plan, "plan")
    price = _translate(
        lambda: client.v1.prices.create(
            params={
                "product": product_id,
                "unit_amount": amount_minor,
                "currency": currency.lower(),
                "recurring": {
                    "interval": interval,
                    "interval_count": interval_count,
                },
                "metadata": meta,
            },
            options=_options(f"price-create-{reference}"),
        )
    )
    return _recurring_snapshot(price, "price")


def recurring_price_retrieve(*, price_id: str) -> RecurringPriceSnapshot:
    client = _client()
    if recurring_price_object() == "plan":
        return _recurring_snapshot(
            _translate(lambda: client.v1.plans.retrieve(price_id)), "plan"
        )
    return _recurring_snapshot(
        _translate(lambda: client.v1.prices.retrieve(price_id)), "price"
    )


def recurring_price_set_active(
    *, price_id: str, active: bool
) -> RecurringPriceSnapshot:
    """Archive (or revive) a recurring price; amounts never change in Stripe."""
    client = _client()
    if recurring_price_object() == "plan":
        return _recurring_snapshot(
            _translate(
                lambda: client.v1.plans.update(price_id, params={"active": active})
            ),
            "plan",
        )
    return _recurring_snapshot(
        _translate(
            lambda: client.v1.prices.update(price_id, params={"active": active})
        ),
        "price",
    )
