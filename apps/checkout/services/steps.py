"""Checkout steps applied to a locked checkout, saved and advanced by the caller.

Each ``apply_*`` changes a checkout the caller locked and returns the fields
it changed, so a request filling several steps (the API's PATCH) saves once
and advances once. Raise ValidationFailed, CheckoutIncomplete or
ShippingMethodUnavailable.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from apps.checkout.exceptions import CheckoutIncomplete, ShippingMethodUnavailable
from apps.checkout.models import Checkout
from apps.checkout.services.pricing import PricingReads, checkout_offered_quotes
from apps.core.exceptions import ValidationFailed


def email_clean(email: str) -> str:
    """Return the email normalised. Raise ValidationFailed when invalid."""
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationFailed(
            "Enter a valid email address.",
            details={"fields": {"email": ["Enter a valid email address."]}},
        ) from None
    return email


def apply_email(checkout: Checkout, email: str, marketing_consent: bool) -> list[str]:
    checkout.email = email
    checkout.marketing_consent = bool(marketing_consent)
    return ["email", "marketing_consent"]


def apply_shipping_address(
    checkout: Checkout, cleaned: dict, billing_same_as_shipping: bool | None
) -> list[str]:
    fields = ["shipping_address"]
    if checkout.shipping_address != cleaned:
        checkout.shipping_method = None
        fields.append("shipping_method")
    checkout.shipping_address = cleaned
    if billing_same_as_shipping is not None:
        checkout.billing_same_as_shipping = billing_same_as_shipping
        fields.append("billing_same_as_shipping")
    return fields


def apply_billing_address(
    checkout: Checkout, same_as_shipping: bool, cleaned: dict | None
) -> list[str]:
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
    return ["billing_same_as_shipping", "billing_address"]


def apply_shipping_method(
    checkout: Checkout, method_id: int, reads: PricingReads
) -> list[str]:
    if not checkout.shipping_address:
        raise CheckoutIncomplete("Enter a shipping address first.")
    offered = {q.id for q in checkout_offered_quotes(checkout=checkout, reads=reads)}
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
    checkout.shipping_method_id = int(method_id)
    return ["shipping_method"]
