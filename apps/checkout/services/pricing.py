"""Shipping quotes, tax rates and the checkout's totals (through the pricing
engine of the carts issue, called again with shipping and tax)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from apps.carts import selectors as cart_selectors
from apps.carts.selectors import CartPricingInput, CartView
from apps.checkout.models import Checkout, Order, ShippingMethod
from apps.checkout.services.pricing_config import pricing_config
from apps.core.money import money_api, percent_of
from apps.coupons.pricing import TaxRate as PricingTaxRate
from apps.wallets import selectors as wallet_selectors

if TYPE_CHECKING:
    from apps.inventory.models import Variant


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
    # Store credit spent on this total (signed-in shoppers with a balance).
    credit_minor: int = 0
    # What the shopper asked for was more than the balance now holds.
    credit_short: bool = False

    @property
    def card_minor(self) -> int:
        """What is left to pay by card after store credit."""
        return self.total_minor - self.credit_minor

    @property
    def shipping_missing(self) -> bool:
        """Shipping is owed but not priced: the total does not include it."""
        return self.requires_shipping and self.shipping_quote is None

    def as_api(self) -> dict:
        def money(amount: int) -> dict:
            return money_api(amount, self.currency)

        shipping = self.shipping_minor - self.shipping_discount_minor
        return {
            "subtotal": money(self.subtotal_minor),
            "discount": money(self.discount_minor),
            "shipping": None if self.shipping_missing else money(shipping),
            "tax": money(self.tax_minor),
            "total": money(self.total_minor),
            "store_credit": money(self.credit_minor),
            "to_pay_by_card": money(self.card_minor),
            "prices_include_tax": self.prices_include_tax,
        }

    def fingerprint(self) -> str:
        lines = [(li.variant_id, li.quantity, li.total_minor) for li in self.view.lines]
        parts: list[Any] = [lines, self.total_minor, self.tax_minor, self.currency]
        if self.credit_minor:
            parts.append(self.credit_minor)
        raw = json.dumps(parts)
        return hashlib.sha256(raw.encode()).hexdigest()


class TaxProvider(Protocol):
    """What checkout needs from tax: rates for a destination.

    The database provider below is the default; an external tax service can
    implement the same call.
    """

    def rates_for(self, *, country: str, region: str) -> tuple[PricingTaxRate, ...]: ...


class DatabaseTaxProvider:
    """The rates staff keep in the database (read through the cached setup)."""

    def rates_for(self, *, country: str, region: str) -> tuple[PricingTaxRate, ...]:
        if not country:
            return ()
        rows = [r for r in pricing_config().tax_rates if r.country == country.upper()]
        regional = [r for r in rows if r.region and r.region.upper() == region.upper()]
        chosen = regional or [r for r in rows if not r.region]
        return tuple(
            PricingTaxRate(r.name, r.basis_points, r.applies_to_shipping)
            for r in chosen
        )


def tax_provider() -> TaxProvider:
    return DatabaseTaxProvider()


def prices_include_tax() -> bool:
    return pricing_config().prices_include_tax


@dataclass(slots=True)
class PricingReads:
    """What pricing one checkout reads, read once per request and reused.

    A request that changes several steps (the API's PATCH) prices the
    checkout more than once: the cart rows, the un-shipped base view, the
    shipping methods and the tax rows are the same each time. Keyed memos,
    so a changed address or subtotal still reads afresh. Never kept past
    the request.
    """

    loaded: CartPricingInput | None = None
    base: tuple[CartView, dict[int, int]] | None = None
    quotes: dict[tuple[str, str, int, int], list[ShippingQuote]] = field(
        default_factory=dict
    )
    rates: dict[tuple[str, str], tuple[PricingTaxRate, ...]] = field(
        default_factory=dict
    )
    inclusive: bool | None = None
    credit_balance: int | None = None
    credit_held: int | None = None

    def variants(self) -> dict[int, Variant] | None:
        """The cart's variants (product loaded) as read for pricing, if read."""
        if self.loaded is None:
            return None
        return {line.variant_id: line.variant for line in self.loaded.lines}


def _weights(loaded: CartPricingInput) -> dict[int, int]:
    # The lines come with their variants: no second read of the catalogue.
    return {line.variant_id: line.variant.weight_grams for line in loaded.lines}


def cart_requires_shipping(weights: dict[int, int]) -> bool:
    """Variants have no 'requires shipping' flag: weight 0 means digital."""
    return any(w > 0 for w in weights.values())


def shipping_quotes(
    *, country: str, currency: str, subtotal_minor: int, weight_grams: int
) -> list[ShippingQuote]:
    """Return the active methods serving ``country`` in ``currency``, priced."""
    country = (country or "").upper()
    # The cached setup: methods with their zones and (weight-priced ones)
    # their bands, no query per request.
    methods = [
        method
        for method in pricing_config().shipping_methods
        if method.currency == currency
        and country in [c.upper() for c in method.zone.countries or []]
    ]
    quotes = []
    for method in methods:
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


def _base(checkout: Checkout, reads: PricingReads) -> tuple[CartView, dict[int, int]]:
    """The cart priced without shipping or tax, and the weight per variant."""
    if reads.base is None:
        if reads.loaded is None:
            reads.loaded = cart_selectors.cart_pricing_input(cart=checkout.cart)
        view = cart_selectors.cart_view(
            cart=checkout.cart,
            user=checkout.user,
            tax_rates=(),
            customer_order_count=0,
            loaded=reads.loaded,
        )
        reads.base = (view, _weights(reads.loaded))
    return reads.base


def _quotes(
    reads: PricingReads,
    *,
    country: str,
    currency: str,
    subtotal_minor: int,
    weight_grams: int,
) -> list[ShippingQuote]:
    key = ((country or "").upper(), currency, subtotal_minor, weight_grams)
    if key not in reads.quotes:
        reads.quotes[key] = shipping_quotes(
            country=country,
            currency=currency,
            subtotal_minor=subtotal_minor,
            weight_grams=weight_grams,
        )
    return reads.quotes[key]


def checkout_offered_quotes(
    *, checkout: Checkout, reads: PricingReads | None = None
) -> list[ShippingQuote]:
    """Return the methods offered for the checkout's address and cart, priced."""
    if not checkout.shipping_address:
        return []
    reads = reads or PricingReads()
    base, weights = _base(checkout, reads)
    if not cart_requires_shipping(weights):
        return []
    return _quotes(
        reads,
        country=checkout.shipping_address.get("country", ""),
        currency=checkout.cart.currency,
        subtotal_minor=base.breakdown.subtotal_minor - base.breakdown.discount_minor,
        weight_grams=sum(
            weights.get(li.variant_id, 0) * li.quantity for li in base.lines
        ),
    )


def checkout_totals(
    *,
    checkout: Checkout,
    customer_order_count: int | None = None,
    reads: PricingReads | None = None,
) -> Totals:
    """Price the checkout's cart with its shipping method and destination tax.

    Query count does not depend on the number of lines. Pass the request's
    ``reads`` to price again without reading the same rows again.
    """
    reads = reads or PricingReads()
    cart = checkout.cart
    base, weights = _base(checkout, reads)
    requires_shipping = cart_requires_shipping(weights)
    weight = sum(weights.get(li.variant_id, 0) * li.quantity for li in base.lines)
    quote = None
    if requires_shipping and checkout.shipping_method_id and checkout.shipping_address:
        quotes = _quotes(
            reads,
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
    place = (destination.get("country", ""), destination.get("region", ""))
    if place not in reads.rates:
        reads.rates[place] = tax_provider().rates_for(country=place[0], region=place[1])
    rates = reads.rates[place]
    if reads.inclusive is None:
        reads.inclusive = prices_include_tax()
    inclusive = reads.inclusive
    view = cart_selectors.cart_view(
        cart=cart,
        user=checkout.user,
        email=checkout.email,
        shipping_minor=shipping_minor,
        tax_rates=() if inclusive else rates,
        customer_order_count=customer_order_count,
        loaded=reads.loaded,
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
    credit, short = _credit(checkout, cart.currency, total, reads)
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
        credit_minor=credit,
        credit_short=short,
    )


def _credit(
    checkout: Checkout, currency: str, total_minor: int, reads: PricingReads
) -> tuple[int, bool]:
    """Return the store credit to spend and whether the balance falls short
    of what the shopper asked for.

    All the balance by default (``credit_requested_minor`` empty), at most
    the total; none for guests or a shopper who chose none (no query then).
    """
    requested = checkout.credit_requested_minor
    if checkout.user_id is None or requested == 0 or total_minor <= 0:
        return 0, False
    if reads.credit_balance is None:
        reads.credit_balance = wallet_selectors.wallet_balance_for_user_id(
            user_id=checkout.user_id, currency=currency
        )
    balance = reads.credit_balance
    wanted = total_minor if requested is None else min(requested, total_minor)
    if balance < wanted and checkout.totals_fingerprint:
        # Payment started: this checkout's own hold is spendable by it.
        if reads.credit_held is None:
            reads.credit_held = checkout_credit_held(checkout)
        balance += reads.credit_held
    return min(wanted, balance), requested is not None and balance < wanted


def checkout_credit_held(checkout: Checkout) -> int:
    """Store credit the checkout's pending order holds now (0 when none)."""
    row = (
        Order.objects.filter(checkout=checkout, status=Order.Status.PENDING_PAYMENT)
        .exclude(credit_hold_ref="")
        .values_list("credit_hold_ref", flat=True)
        .first()
    )
    if row is None or checkout.user_id is None:
        return 0
    return wallet_selectors.wallet_held_for(
        user_id=checkout.user_id, currency=checkout.cart.currency, reference=row
    )
