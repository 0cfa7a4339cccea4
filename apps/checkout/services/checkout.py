"""Checkout steps and its state machine (one locked mutator)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction

from apps.accounts import services as account_services
from apps.accounts.services import AddressData
from apps.carts import selectors as cart_selectors
from apps.carts.models import Cart
from apps.checkout.exceptions import (
    CartEmpty,
    CheckoutIncomplete,
)
from apps.checkout.models import CHECKOUT_STATES, Checkout
from apps.checkout.services.pricing import (
    PricingReads,
    Totals,
    checkout_offered_quotes,
    checkout_totals,
)
from apps.checkout.services.steps import (
    apply_billing_address,
    apply_email,
    apply_shipping_address,
    apply_shipping_method,
    email_clean,
)
from apps.core.audit import audit_log
from apps.core.exceptions import InvalidTransition, ValidationFailed

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser
    from django.http import HttpRequest

    from apps.accounts.models import User
    from apps.checkout.services.pricing import ShippingQuote

S = Checkout.State
STEP_ORDER = [
    S.IDENTIFICATION,
    S.SHIPPING_ADDRESS,
    S.BILLING_ADDRESS,
    S.SHIPPING_METHOD,
    S.PAYMENT,
]
EDITABLE = {
    S.CART_REVIEW,
    S.IDENTIFICATION,
    S.SHIPPING_ADDRESS,
    S.BILLING_ADDRESS,
    S.SHIPPING_METHOD,
    S.PAYMENT,
    S.REVIEW,
    S.PAYMENT_FAILED,
}
ADDRESS_FIELDS = account_services.ADDRESS_FIELDS


def checkout_transition(*, checkout_id: uuid.UUID | str, to: str) -> Checkout:
    """Move a checkout to ``to``; a move to the current state is a no-op.

    Raise InvalidTransition for a move the table does not allow.
    """
    with transaction.atomic():
        checkout = Checkout.objects.select_for_update().get(pk=checkout_id)
        checkout_move_locked(checkout, to)
    return checkout


def checkout_move_locked(
    checkout: Checkout, to: str, *, also_update: Iterable[str] = ()
) -> bool:
    """Apply a transition of the table to a row the caller has locked.

    Every state change of a checkout goes through here (or through
    ``checkout_transition``, which locks first). ``also_update`` names other
    fields the caller changed, saved in the same UPDATE. A move to the
    current state saves nothing and returns False. Raise InvalidTransition
    for a move the table does not allow.
    """
    return CHECKOUT_STATES.move(checkout, to, also_update=also_update)


def checkout_next_step(
    checkout: Checkout, *, requires_shipping: bool, shipping_quoted: bool = True
) -> str:
    """Return the first step still to do (``payment`` when all are done).

    Pass ``shipping_quoted=False`` when the chosen method no longer quotes
    (``Totals.shipping_method_lapsed``): it then counts as not chosen.
    """
    if not checkout.email:
        return S.IDENTIFICATION
    if requires_shipping and not checkout.shipping_address:
        return S.SHIPPING_ADDRESS
    has_billing = checkout.billing_address or (
        checkout.billing_same_as_shipping and checkout.shipping_address
    )
    if not has_billing:
        return S.BILLING_ADDRESS
    if requires_shipping and not (checkout.shipping_method_id and shipping_quoted):
        return S.SHIPPING_METHOD
    return S.PAYMENT


def _lock_editable(checkout_id: uuid.UUID) -> Checkout:
    # The shopper comes joined (pricing reads it); PostgreSQL cannot lock the
    # nullable side of an outer join, so only the checkout and cart are locked.
    checkout = (
        Checkout.objects.select_for_update(of=("self", "cart"))
        .select_related("cart", "user")
        .get(pk=checkout_id)
    )
    if checkout.state not in EDITABLE or checkout.cart.status != Cart.Status.OPEN:
        raise InvalidTransition(
            f"This checkout is {checkout.state} and can no longer change.",
            details={"from": checkout.state},
        )
    return checkout


def _advance(
    checkout: Checkout,
    *,
    reads: PricingReads | None = None,
    changed: Iterable[str] = (),
) -> Totals:
    """Put the checkout on its first unfinished step; return its totals.

    ``changed`` names fields the caller set but did not save yet: they go
    in the first move's UPDATE, or are saved alone when the state stays.
    The totals are priced after the fields changed and before the state
    moves; the state does not enter pricing, so they stay true.
    """
    pending = list(dict.fromkeys(changed))
    totals = checkout_totals(checkout=checkout, reads=reads)
    target = checkout_next_step(
        checkout,
        requires_shipping=totals.requires_shipping,
        shipping_quoted=not totals.shipping_method_lapsed,
    )
    moves: list[str] = []
    if checkout.state == S.CART_REVIEW:
        moves.append(S.IDENTIFICATION)
    if checkout.state in (S.REVIEW, S.PAYMENT_FAILED) and target == S.PAYMENT:
        moves.append(S.PAYMENT)
    else:
        moves.append(target)
    for to in moves:
        if checkout_move_locked(checkout, to, also_update=pending):
            pending = []
    if pending:
        _save(checkout, pending)
    return totals


def checkout_start(
    *,
    cart: Cart,
    user: User | AnonymousUser | None = None,
    email: str = "",
    request: HttpRequest | None = None,
) -> tuple[Checkout, bool]:
    """Return the cart's checkout (creating it), on its first unfinished step.

    Raise CartEmpty for a cart without lines, InvalidTransition when the cart
    is no longer open.
    """
    checkout, created, _ = checkout_start_priced(
        cart=cart, user=user, email=email, request=request
    )
    return checkout, created


def checkout_start_priced(
    *,
    cart: Cart,
    user: User | AnonymousUser | None = None,
    email: str = "",
    request: HttpRequest | None = None,
) -> tuple[Checkout, bool, Totals]:
    """``checkout_start``, plus the totals it priced (for the response).

    Raise as ``checkout_start``.
    """
    if cart.status != Cart.Status.OPEN:
        raise InvalidTransition(
            f"This cart is {cart.status}; start from a new cart.",
            details={"cart": cart.status},
        )
    shopper = user if user is not None and user.is_authenticated else None
    created = False
    fresh: Checkout | None = None
    exists = Checkout.objects.filter(cart=cart).exists()
    reads = PricingReads()
    with transaction.atomic():
        if not exists:
            try:
                # A savepoint: a concurrent start may have created it first.
                with transaction.atomic():
                    fresh = Checkout.objects.create(
                        cart=cart, user=cart.user if cart.user_id else None
                    )
                    created = True
            except IntegrityError:
                pass
        if fresh is not None:
            # A row just inserted is this transaction's until commit.
            checkout = fresh
        else:
            # Locked like every edit of a checkout.
            checkout = (
                Checkout.objects.select_for_update(of=("self", "cart"))
                .select_related("cart", "user")
                .get(cart=cart)
            )
        # Read once, after the lock: the emptiness check and the pricing below.
        reads.loaded = cart_selectors.cart_pricing_input(cart=checkout.cart)
        if not reads.loaded.lines:
            raise CartEmpty("Your cart is empty.")
        changed = []
        if shopper is not None and checkout.user_id is None:
            checkout.user = shopper
            changed.append("user")
        if shopper is not None and not checkout.email:
            checkout.email = shopper.email
            changed.append("email")
        if email and checkout.state in EDITABLE:
            checkout.email = email.strip().lower()
            changed.append("email")
        totals = None
        if checkout.state in EDITABLE and (
            checkout.state in (S.CART_REVIEW, S.IDENTIFICATION) or changed
        ):
            totals = _advance(checkout, reads=reads, changed=changed)
        elif changed:
            _save(checkout, changed)
        if created:
            audit_log(
                action="checkout_started",
                request=request,
                obj=checkout,
                data={"cart": str(cart.pk)},
            )
    if totals is None:
        totals = checkout_totals(checkout=checkout, reads=reads)
    return checkout, created, totals


def _save(checkout: Checkout, fields: list[str]) -> None:
    checkout.save(update_fields=[*dict.fromkeys(fields), "updated_at"])


def checkout_set_email(
    *, checkout: Checkout, email: str, marketing_consent: bool = False
) -> Checkout:
    """Continue as guest with an email (marketing consent defaults to off)."""
    email = email_clean(email)
    with transaction.atomic():
        checkout = _lock_editable(checkout.pk)
        _advance(checkout, changed=apply_email(checkout, email, marketing_consent))
        return checkout


def address_clean(data: dict) -> dict:
    """Validate and normalise an address (country rules, phone) to a dict.

    Raise ValidationFailed with per-field messages.
    """
    values: dict[str, Any] = {
        name: str(data.get(name) or "") for name in ADDRESS_FIELDS
    }
    normalized = account_services.address_normalize(data=AddressData(**values))
    result = asdict(normalized)
    result.pop("is_default_shipping", None)
    result.pop("is_default_billing", None)
    return result


def _save_to_book(user: User | None, address: dict, *, shipping: bool) -> None:
    if user is None or not user.is_authenticated:
        return
    account_services.address_create(
        user=user,
        data=AddressData(
            **address, is_default_shipping=False, is_default_billing=False
        ),
    )


def checkout_set_shipping_address(
    *,
    checkout: Checkout,
    address: dict,
    billing_same_as_shipping: bool | None = None,
    save_to_address_book: bool = False,
) -> Checkout:
    """Set the delivery address; a changed address clears the shipping method.

    Raise ValidationFailed (per field) or InvalidTransition.
    """
    cleaned = address_clean(address)
    with transaction.atomic():
        checkout = _lock_editable(checkout.pk)
        _save(
            checkout,
            apply_shipping_address(checkout, cleaned, billing_same_as_shipping),
        )
        if save_to_address_book:
            _save_to_book(checkout.user, cleaned, shipping=True)
        _advance(checkout)
        return checkout


def checkout_set_billing_address(
    *,
    checkout: Checkout,
    same_as_shipping: bool,
    address: dict | None = None,
    save_to_address_book: bool = False,
) -> Checkout:
    """Set the billing address, or use the shipping address for it."""
    cleaned = None
    if not same_as_shipping:
        cleaned = address_clean(address or {})
    with transaction.atomic():
        checkout = _lock_editable(checkout.pk)
        _save(checkout, apply_billing_address(checkout, same_as_shipping, cleaned))
        if cleaned and save_to_address_book:
            _save_to_book(checkout.user, cleaned, shipping=False)
        _advance(checkout)
        return checkout


def checkout_update(
    *,
    checkout: Checkout,
    email: str | None = None,
    marketing_consent: bool = False,
    shipping_address: dict | None = None,
    billing_address: dict | None = None,
    billing_same_as_shipping: bool | None = None,
    shipping_method_id: int | None = None,
) -> tuple[Checkout, Totals]:
    """Fill in several steps at once (the API's PATCH), all or nothing.

    Both addresses are validated first, so their field errors come back
    together; then the steps apply in order to the checkout locked once, so
    a later refusal (a shipping method not offered) leaves nothing written.
    The checkout is saved once and priced once for its next step, and those
    totals are returned for the response. Arguments left as None are not
    changed. Raise ValidationFailed (per field), ShippingMethodUnavailable,
    CheckoutIncomplete or InvalidTransition.
    """
    errors = {}
    cleaned: dict[str, dict] = {}
    for name, address in (
        ("shipping_address", shipping_address),
        ("billing_address", billing_address),
    ):
        if address:
            try:
                cleaned[name] = address_clean(address)
            except ValidationFailed as exc:
                errors[name] = exc.details.get("fields", {})
    if errors:
        raise ValidationFailed("The checkout is not valid.", details={"fields": errors})
    if email is not None:
        email = email_clean(email)
    reads = PricingReads()
    if not (
        shipping_address
        or billing_address
        or any(
            v is not None for v in (email, billing_same_as_shipping, shipping_method_id)
        )
    ):
        # Nothing to fill in: nothing locked or moved (also when not editable).
        return checkout, checkout_totals(checkout=checkout, reads=reads)
    with transaction.atomic():
        checkout = _lock_editable(checkout.pk)
        fields: list[str] = []
        if email is not None:
            fields += apply_email(checkout, email, marketing_consent)
        if shipping_address:
            fields += apply_shipping_address(
                checkout, cleaned["shipping_address"], billing_same_as_shipping
            )
        if billing_address or (
            billing_same_as_shipping is not None and not shipping_address
        ):
            same = (
                billing_same_as_shipping
                if billing_same_as_shipping is not None
                else not billing_address
            )
            billing = None
            if not same:
                billing = cleaned.get("billing_address") or address_clean(
                    billing_address or {}
                )
            fields += apply_billing_address(checkout, same, billing)
        if shipping_method_id is not None:
            fields += apply_shipping_method(checkout, shipping_method_id, reads)
        totals = _advance(checkout, reads=reads, changed=fields)
    return checkout, totals


def checkout_shipping_quotes(
    *, checkout: Checkout, reads: PricingReads | None = None
) -> list[ShippingQuote]:
    """Return the shipping methods offered for the checkout's address and cart."""
    return checkout_offered_quotes(checkout=checkout, reads=reads)


def checkout_set_shipping_method(*, checkout: Checkout, method_id: int) -> Checkout:
    """Choose one of the offered methods.

    Raise CheckoutIncomplete without an address, ShippingMethodUnavailable
    for a method not offered for this address and cart.
    """
    if not checkout.shipping_address:
        raise CheckoutIncomplete("Enter a shipping address first.")
    with transaction.atomic():
        checkout = _lock_editable(checkout.pk)
        reads = PricingReads()
        fields = apply_shipping_method(checkout, method_id, reads)
        _advance(checkout, reads=reads, changed=fields)
        return checkout
