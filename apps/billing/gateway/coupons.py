"""Stripe coupons: the terms of a discount that subscriptions carry.

Our coupon codes stay ours (checked and counted by ``apps.coupons``); Stripe
only gets a coupon object with the terms, under an id we choose, which
subscriptions then reference. Stripe coupons cannot change their terms, so the
caller names them by their terms and pushes a new one after an edit.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from apps.billing.exceptions import PaymentRequestInvalid
from apps.billing.gateway.client import (
    _client,
    _missing_as_none,
    _options,
    _translate,
    is_localstripe,
)


@dataclass(frozen=True, slots=True)
class CouponSnapshot:
    id: str
    name: str
    percent_off: Decimal | None
    amount_off_minor: int | None
    currency: str
    duration: str
    duration_in_months: int | None
    valid: bool


def _snapshot(obj: Any) -> CouponSnapshot:
    percent = obj.get("percent_off")
    amount = obj.get("amount_off")
    months = obj.get("duration_in_months")
    return CouponSnapshot(
        id=str(obj["id"]),
        name=str(obj.get("name") or ""),
        # Through str: Stripe sends 12.5 as a JSON float.
        percent_off=None if percent is None else Decimal(str(percent)),
        amount_off_minor=None if amount is None else int(amount),
        currency=str(obj.get("currency") or "").upper(),
        duration=str(obj["duration"]),
        duration_in_months=None if months is None else int(months),
        valid=obj.get("valid") in (True, "true", None),
    )


def coupon_retrieve(*, coupon_id: str) -> CouponSnapshot | None:
    """Return the Stripe coupon, or None when there is none with this id."""
    found = _translate(
        lambda: _missing_as_none(lambda: _client().v1.coupons.retrieve(coupon_id))
    )
    return None if found is None else _snapshot(found)


def coupon_create(
    *,
    coupon_id: str,
    duration: str,
    percent_off: Decimal | None = None,
    amount_off_minor: int | None = None,
    currency: str = "",
    duration_in_months: int | None = None,
    name: str = "",
) -> CouponSnapshot:
    """Create a Stripe coupon with our id: percent off or an amount off."""
    if (percent_off is None) == (amount_off_minor is None):
        raise ValueError("Give exactly one of percent_off and amount_off_minor.")
    params: dict[str, Any] = {"id": coupon_id, "duration": duration}
    if percent_off is not None:
        # Stripe takes up to two decimals; localstripe parses it as a float.
        params["percent_off"] = str(percent_off.normalize())
    else:
        params["amount_off"] = amount_off_minor
        params["currency"] = currency.lower()
    if duration == "repeating":
        params["duration_in_months"] = duration_in_months
    if name and not is_localstripe():  # localstripe refuses `name` (400)
        params["name"] = name
    created = _translate(
        lambda: _client().v1.coupons.create(
            params=params,  # type: ignore[arg-type]  # built by hand above
            options=_options(f"coupon-create-{coupon_id}"),
        )
    )
    return _snapshot(created)


def coupon_ensure(
    *,
    coupon_id: str,
    duration: str,
    percent_off: Decimal | None = None,
    amount_off_minor: int | None = None,
    currency: str = "",
    duration_in_months: int | None = None,
    name: str = "",
) -> CouponSnapshot:
    """Return the Stripe coupon with this id, creating it first if missing.

    Idempotent and safe in parallel: a create that loses the race to another
    (Stripe answers that the id exists) retrieves the winner's coupon.
    """
    existing = coupon_retrieve(coupon_id=coupon_id)
    if existing is not None:
        return existing
    try:
        return coupon_create(
            coupon_id=coupon_id,
            duration=duration,
            percent_off=percent_off,
            amount_off_minor=amount_off_minor,
            currency=currency,
            duration_in_months=duration_in_months,
            name=name,
        )
    except PaymentRequestInvalid:
        existing = coupon_retrieve(coupon_id=coupon_id)
        if existing is None:
            raise
        return existing
