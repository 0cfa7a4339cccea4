"""Checkout steps and its state machine (one locked mutator)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction

from apps.accounts import services as account_services
from apps.accounts.services import AddressData
from apps.carts.models import Cart
from apps.checkout.exceptions import (
    CartEmpty,
    CheckoutIncomplete,
    ShippingMethodUnavailable,
)
from apps.checkout.models import CHECKOUT_TRANSITIONS, Checkout
from apps.checkout.services.pricing import (
    checkout_totals,
    shipping_quotes,
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
    if checkout.state == to:
        return False
    if to not in CHECKOUT_TRANSITIONS.get(checkout.state, set()):
        raise InvalidTransition(
            f"A checkout cannot go from {checkout.state} to {to}.",
            details={"from": checkout.state, "to": to},
        )
    checkout.state = to
    checkout.save(update_fields=["state", *also_update, "updated_at"])
    return True


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
    checkout = (
        Checkout.objects.select_for_update().select_related("cart").get(pk=checkout_id)
    )
    if checkout.state not in EDITABLE or checkout.cart.status != Cart.Status.OPEN:
        raise InvalidTransition(
            f"This checkout is {checkout.state} and can no longer change.",
            details={"from": checkout.state},
        )
    return checkout


def _advance(checkout: Checkout) -> Checkout:
    """Put the checkout on its first unfinished step."""
    totals = checkout_totals(checkout=checkout)
    target = checkout_next_step(
        checkout,
        requires_shipping=totals.requires_shipping,
        shipping_quoted=not totals.shipping_method_lapsed,
    )
    if checkout.state == S.CART_REVIEW:
        checkout_move_locked(checkout, S.IDENTIFICATION)
    if checkout.state in (S.REVIEW, S.PAYMENT_FAILED) and target == S.PAYMENT:
        checkout_move_locked(checkout, S.PAYMENT)
        return checkout
    checkout_move_locked(checkout, target)
    return checkout


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
    if cart.status != Cart.Status.OPEN:
        raise InvalidTransition(
            f"This cart is {cart.status}; start from a new cart.",
            details={"cart": cart.status},
        )
    if not cart.lines.exists():
        raise CartEmpty("Your cart is empty.")
    shopper = user if user is not None and user.is_authenticated else None
    created = False
    checkout = Checkout.objects.filter(cart=cart).first()
    if checkout is None:
        try:
            with transaction.atomic():
                checkout = Checkout.objects.create(
                    cart=cart, user=cart.user if cart.user_id else None
                )
                created = True
        except IntegrityError:
            checkout = Checkout.objects.get(cart=cart)
    with transaction.atomic():
        checkout = (
            Checkout.objects.select_for_update()
            .select_related("cart")
            .get(pk=checkout.pk)
        )
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
        if changed:
            checkout.save(update_fields=[*set(changed), "updated_at"])
        if checkout.state in EDITABLE and (
            checkout.state in (S.CART_REVIEW, S.IDENTIFICATION) or changed
        ):
            _advance(checkout)
        if created:
            audit_log(
                action="checkout_started",
                request=request,
                obj=checkout,
                data={"cart": str(cart.pk)},
            )
    return checkout, created


def checkout_set_email(
    *, checkout: Checkout, email: str, marketing_consent: bool = False
) -> Checkout:
    """Continue as guest with an email (marketing consent defaults to off)."""
    email = (email or "").strip().lower()
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    try:
        validate_email(email)
    except ValidationError:
        raise ValidationFailed(
            "Enter a valid email address.",
            details={"fields": {"email": ["Enter a valid email address."]}},
        ) from None
    with transaction.atomic():
        checkout = _lock_editable(checkout.pk)
        checkout.email = email
        checkout.marketing_consent = bool(marketing_consent)
        checkout.save(update_fields=["email", "marketing_consent", "updated_at"])
        return _advance(checkout)


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
        fields = ["shipping_address", "updated_at"]
        if checkout.shipping_address != cleaned:
            checkout.shipping_method = None
            fields.append("shipping_method")
        checkout.shipping_address = cleaned
        if billing_same_as_shipping is not None:
            checkout.billing_same_as_shipping = billing_same_as_shipping
            fields.append("billing_same_as_shipping")
        checkout.save(update_fields=fields)
        if save_to_address_book:
            _save_to_book(checkout.user, cleaned, shipping=True)
        return _advance(checkout)


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
        if same_as_shipping and not checkout.shipping_address:
            raise ValidationFailed(
                "There is no shipping address to copy.",
                details={
                    "fields": {
                        "billing_same_as_shipping": [
                            "Enter a billing address: nothing is shipped."
                        ]
                    }
                },
            )
        checkout.billing_same_as_shipping = same_as_shipping
        checkout.billing_address = cleaned
        checkout.save(
            update_fields=["billing_same_as_shipping", "billing_address", "updated_at"]
        )
        if cleaned and save_to_address_book:
            _save_to_book(checkout.user, cleaned, shipping=False)
        return _advance(checkout)


def checkout_update(
    *,
    checkout: Checkout,
    email: str | None = None,
    marketing_consent: bool = False,
    shipping_address: dict | None = None,
    billing_address: dict | None = None,
    billing_same_as_shipping: bool | None = None,
    shipping_method_id: int | None = None,
) -> Checkout:
    """Fill in several steps at once (the API's PATCH), all or nothing.

    Both addresses are validated first, so their field errors come back
    together; then the steps apply in order in one transaction, so a later
    refusal (a shipping method not offered) leaves nothing written. Arguments
    left as None are not changed. Raise ValidationFailed (per field),
    ShippingMethodUnavailable, CheckoutIncomplete or InvalidTransition.
    """
    errors = {}
    for name, address in (
        ("shipping_address", shipping_address),
        ("billing_address", billing_address),
    ):
        if address:
            try:
                address_clean(address)
            except ValidationFailed as exc:
                errors[name] = exc.details.get("fields", {})
    if errors:
        raise ValidationFailed("The checkout is not valid.", details={"fields": errors})
    with transaction.atomic():
        if email is not None:
            checkout = checkout_set_email(
                checkout=checkout, email=email, marketing_consent=marketing_consent
            )
        if shipping_address:
            checkout = checkout_set_shipping_address(
                checkout=checkout,
                address=shipping_address,
                billing_same_as_shipping=billing_same_as_shipping,
            )
        if billing_address or (
            billing_same_as_shipping is not None and not shipping_address
        ):
            checkout = checkout_set_billing_address(
                checkout=checkout,
                same_as_shipping=(
                    billing_same_as_shipping
                    if billing_same_as_shipping is not None
                    else not billing_address
                ),
                address=billing_address,
            )
        if shipping_method_id is not None:
            checkout = checkout_set_shipping_method(
                checkout=checkout, method_id=shipping_method_id
            )
    return checkout


def checkout_shipping_quotes(*, checkout: Checkout) -> list[ShippingQuote]:
    """Return the shipping methods offered for the checkout's address and cart."""
    if not checkout.shipping_address:
        return []
    totals = checkout_totals(checkout=checkout)
    if not totals.requires_shipping:
        return []
    return shipping_quotes(
        country=checkout.shipping_address.get("country", ""),
        currency=checkout.cart.currency,
        subtotal_minor=totals.subtotal_minor - totals.discount_minor,
        weight_grams=totals.weight_grams,
    )


def checkout_set_shipping_method(*, checkout: Checkout, method_id: int) -> Checkout:
    """Choose one of the offered methods.

    Raise CheckoutIncomplete without an address, ShippingMethodUnavailable
    for a method not offered for this address and cart.
    """
    if not checkout.shipping_address:
        raise CheckoutIncomplete("Enter a shipping address first.")
    offered = {q.id for q in checkout_shipping_quotes(checkout=checkout)}
    if int(method_id) not in offered:
        raise ShippingMethodUnavailable(
            "That shipping method is not available for this address.",
            details={
                "fields": {
                    "shipping_method": [
                        "Choose one of the methods offered for your address."
                    ]
                }
            },
        )
    with transaction.atomic():
        checkout = _lock_editable(checkout.pk)
        checkout.shipping_method_id = int(method_id)
        checkout.save(update_fields=["shipping_method", "updated_at"])
        return _advance(checkout)
