"""Stripe's Billing Portal: cards, invoices and cancellation hosted by Stripe."""

from __future__ import annotations

from typing import TYPE_CHECKING

from apps.billing import gateway
from apps.subscriptions.exceptions import NoBillingAccount
from apps.subscriptions.models import Customer

if TYPE_CHECKING:
    from apps.accounts.models import User


def billing_portal_available() -> bool:
    """Return whether the Stripe server has a Billing Portal (real Stripe)."""
    return not gateway.is_localstripe()


def billing_portal_open(*, user: User, return_url: str) -> str:
    """Open a Billing Portal session for the user's Stripe customer; its URL.

    Raise NoBillingAccount when the user has no Stripe customer, and
    StripeFeatureUnavailable on localstripe (it has no Billing Portal).
    """
    customer = Customer.objects.filter(user=user).first()
    if customer is None:
        raise NoBillingAccount()
    session = gateway.billing_portal_session_create(
        customer=customer.stripe_id, return_url=return_url
    )
    return session.url
