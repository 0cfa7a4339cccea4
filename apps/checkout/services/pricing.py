"""Shipping quotes, tax rates and the checkout's totals (through the pricing
engine of the carts issue, called again with shipping and tax)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Protocol

from apps.carts import selectors as cart_selectors
from apps.carts.selectors import CartView
from apps.checkout.models import Checkout, ShippingMethod, TaxRate, TaxSettings
from apps.core.money import percent_of
from apps.coupons.pricing import TaxRate as PricingTaxRate
from apps.inventory import selectors as inventory_selectors


@dataclass(frozen=True, slots=True)
class ShippingQuote:
    method: ShippingMethod
    price_minor: int
    currency: str

    @property
    def id(self) -> int:
        return self.method.pk

    @property
    def name(self) -> str:
        return self.method.name

    @property
    def estimate(self) -> str:
        low, high = self.method.min_delivery_days, self.method.max_delivery_days
        return f"{low}–{high} business days" if low != high else f"{low} days"


@dataclass(frozen=True, slots=True)
class Totals:
    """A checkout priced now: the cart view (lines, coupons) plus shipping and tax."""

    view: CartView
    currency: str
    subtotal_minor: int
    discount_minor: int
    shipping_minor: int
    shipping_discount_minor: int
    tax_minor: int
    total_minor: int
    taxes: tuple[dict, ...]
    prices_include_tax: bool
    requires_shipping: bool
    weight_grams: int
    weights: dict[int, int]
    # The chosen method as it quotes now; None when none is chosen or the
    # chosen one no longer quotes (weight past its top band, deactivated,
    # another country or currency): such a method counts as not chosen.
    shipping_quote: ShippingQuote | None = None
    shipping_method_lapsed: bool = False

    @property
    def shipping_missing(self) -> bool:
        """Shipping is owed but not priced: the total does not include it."""
        return self.requires_shipping and self.shipping_quote is None

    def as_api(self) -> dict:
        def money(amount: int) -> dict:
            return {"amount": amount, "currency": self.currency}

        shipping = self.shipping_minor - self.shipping_discount_minor
        return {
            "subtotal": money(self.subtotal_minor),
            "discount": money(self.discount_minor),
            "shipping": None if self.shipping_missing else money(shipping),
            "tax": money(self.tax_minor),
            "total": money(self.total_minor),
            "prices_include_tax": self.prices_include_tax,
        }

    def fingerprint(self) -> str:
        lines = [(li.variant_id, li.quantity, li.total_minor) for li in self.view.lines]
        raw = json.dumps([lines, self.total_minor, self.tax_minor, self.currency])
        return hashlib.sha256(raw.encode()).hexdigest()


class TaxProvider(Protocol):
    """What checkout needs from tax: rates for a destination.

    The database provider below is the default; an external tax service can
    implement the same call.
    """

    def rates_for(self, *, country: str, region: str) -> tuple[PricingTaxRate, ...]: ...


class DatabaseTaxProvider:
    def rates_for(self, *, country: str, region: str) -> tuple[PricingTaxRate, ...]:
        if not country:
            return ()
        rows = list(TaxRate.objects.filter(country=country.upper()))
        regional = [r for r in rows if r.region and r.region.upper() == region.upper()]
        chosen = regional or [r for r in rows if not r.region]
        return tuple(
            PricingTaxRate(r.name, r.basis_points, r.applies_to_shipping)
            for r in chosen
        )


def tax_provider() -> TaxProvider:
    return DatabaseTaxProvider()


def prices_include_tax() -> bool:
    row = TaxSettings.objects.filter(pk=1).first()
    return bool(row and row.prices_include_tax)


def _weights(view: CartView) -> dict[int, int]:
    variants = inventory_selectors.variants_for_ids(
        ids=[line.variant_id for line in view.lines]
    )
    return {vid: v.weight_grams for vid, v in variants.items()}


def cart_requires_shipping(weights: dict[int, int]) -> bool:
    """Variants have no 'requires shipping' flag: weight 0 means digital."""
    return any(w > 0 for w in weights.values())


def shipping_quotes(
    *, country: str, currency: str, subtotal_minor: int, weight_grams: int
) -> list[ShippingQuote]:
    """Return the active methods serving ``country`` in ``currency``, priced."""
    country = (country or "").upper()
    methods = (
        ShippingMethod.objects.filter(is_active=True, currency=currency)
        .select_related("zone")
        .prefetch_related("weight_bands")
    )
    quotes = []
    for method in methods:
        if country not in [c.upper() for c in method.zone.countries or []]:
            continue
        if method.rate_type == ShippingMethod.RateType.WEIGHT:
            band = next(
                (
                    b
                    for b in method.weight_bands.all()
                    if weight_grams <= b.max_weight_grams
                ),
                None,
            )
            if band is None:
                continue
            amount = band.price_minor
        elif method.rate_type == ShippingMethod.RateType.FREE_OVER and (
            subtotal_minor >= (method.free_over_minor or 0)
        ):
            amount = 0
        else:
            amount = method.price_minor
        quotes.append(ShippingQuote(method, amount, currency))
    return quotes


def _destination(checkout: Checkout, requires_shipping: bool) -> dict:
    if requires_shipping and checkout.shipping_address:
        return checkout.shipping_address
    if checkout.billing_same_as_shipping and checkout.shipping_address:
        return checkout.shipping_address
    return checkout.billing_address or {}


def checkout_totals(
    *, checkout: Checkout, customer_order_count: int | None = None
) -> Totals:
    """Price the checkout's cart with its shipping method and destination tax.

    Query count does not depend on the number of lines.
    """
    cart = checkout.cart
    base = cart_selectors.cart_view(
        cart=cart, user=checkout.user, tax_rates=(), customer_order_count=0
    )
    weights = _weights(base)
    requires_shipping = cart_requires_shipping(weights)
    weight = sum(weights.get(li.variant_id, 0) * li.quantity for li in base.lines)
    quote = None
    if requires_shipping and checkout.shipping_method_id and checkout.shipping_address:
        quotes = shipping_quotes(
            country=checkout.shipping_address.get("country", ""),
            currency=cart.currency,
            subtotal_minor=base.breakdown.subtotal_minor
            - base.breakdown.discount_minor,
            weight_grams=weight,
        )
        quote = next((q for q in quotes if q.id == checkout.shipping_method_id), None)
    # Without a quote the totals leave shipping out (shown as missing, and
    # payment refuses to start): never an unquotable method priced at 0.
    shipping_minor = quote.price_minor if quote else 0
    destination = _destination(checkout, requires_shipping)
    rates = tax_provider().rates_for(
        country=destination.get("country", ""), region=destination.get("region", "")
    )
    inclusive = prices_include_tax()
    view = cart_selectors.cart_view(
        cart=cart,
        user=checkout.user,
        email=checkout.email,
        shipping_minor=shipping_minor,
        tax_rates=() if inclusive else rates,
        customer_order_count=customer_order_count,
    )
    b = view.breakdown
    taxes: list[dict[str, Any]]
    if inclusive:
        taxable = b.subtotal_minor - b.discount_minor
        shipping_left = b.shipping_minor - b.shipping_discount_minor
        taxes = []
        for rate in rates:
            base_minor = taxable + (shipping_left if rate.applies_to_shipping else 0)
            # The tax contained in a gross amount: gross × bp / (10 000 + bp).
            amount = percent_of(
                base_minor * 10_000 // (10_000 + rate.basis_points), rate.basis_points
            )
            taxes.append(
                {
                    "name": rate.name,
                    "basis_points": rate.basis_points,
                    "amount_minor": amount,
                }
            )
        tax_minor = sum(t["amount_minor"] for t in taxes)
        total = b.total_minor
    else:
        taxes = [
            {
                "name": t.name,
                "basis_points": t.basis_points,
                "amount_minor": t.amount_minor,
            }
            for t in b.taxes
        ]
        tax_minor = b.tax_minor
        total = b.total_minor
    return Totals(
        view=view,
        currency=cart.currency,
        subtotal_minor=b.subtotal_minor,
        discount_minor=b.discount_minor,
        shipping_minor=b.shipping_minor,
        shipping_discount_minor=b.shipping_discount_minor,
        tax_minor=tax_minor,
        total_minor=total,
        taxes=tuple(taxes),
        prices_include_tax=inclusive,
        requires_shipping=requires_shipping,
        weight_grams=weight,
        weights=weights,
        shipping_quote=quote,
        shipping_method_lapsed=bool(
            requires_shipping and checkout.shipping_method_id and quote is None
        ),
    )
