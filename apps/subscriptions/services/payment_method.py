"""A subscription's card: collected by a SetupIntent, then its default.

Two steps, because the card is confirmed in the browser or the mobile SDK
(3-D Secure included), never on our server: ``..._setup`` creates the
SetupIntent whose secret the client confirms; ``..._confirm`` (the return
page, or the API after the SDK call) reads the SetupIntent back from Stripe
and makes its card the subscription's default. The confirm step trusts
nothing but Stripe's answer, and a repeat for the same SetupIntent changes
nothing, so a reload or a replayed request sends no second email or signal.
A trial's card (the subscription's pending SetupIntent) ends in the same
confirm step.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from django.db import transaction

from apps.billing.exceptions import PaymentRequestInvalid
from apps.billing.gateway import intents as gw_intents
from apps.billing.gateway import payment_methods as gw_methods
from apps.billing.gateway.types import IntentStatus
from apps.subscriptions import selectors
from apps.subscriptions.exceptions import (
    PaymentMethodNotConfirmed,
    PaymentMethodNotUpdatable,
    SetupIntentNotFound,
)
from apps.subscriptions.models import (
    Customer,
    Subscription,
    SubscriptionEvent,
    SubscriptionStatus,
)
from apps.subscriptions.services import effects
from apps.subscriptions.signals import payment_method_updated

if TYPE_CHECKING:
    from apps.accounts.models import User

# Incomplete has its first payment to confirm instead (the pay page).
UPDATABLE = (
    SubscriptionStatus.TRIALING,
    SubscriptionStatus.ACTIVE,
    SubscriptionStatus.PAST_DUE,
    SubscriptionStatus.UNPAID,
    SubscriptionStatus.PAUSED,
)
REASON = "payment_method_updated"


@dataclass(frozen=True, slots=True)
class PaymentMethodSetup:
    subscription: Subscription
    setup_intent_id: str
    client_secret: str


def card_label(*, brand: str, last4: str) -> str:
    if not last4:
        return brand.title() or "Card"
    return f"{brand.title() or 'Card'} •••• {last4}"


def _updatable(*, user: User, subscription_id: int) -> tuple[Subscription, Customer]:
    sub = selectors.subscription_get_for_user(
        user=user, subscription_id=subscription_id
    )
    customer = Customer.objects.filter(user=user).first()
    if sub.status not in UPDATABLE or not sub.stripe_id or customer is None:
        raise PaymentMethodNotUpdatable(sub.status)
    return sub, customer


def subscription_payment_method_setup(
    *, user: User, subscription_id: int, idempotency_key: str = ""
) -> PaymentMethodSetup:
    """Create the SetupIntent a new card for the subscription is confirmed on.

    Raise SubscriptionNotFound (another user's id) or PaymentMethodNotUpdatable
    (the subscription has ended or was never paid).
    """
    sub, customer = _updatable(user=user, subscription_id=subscription_id)
    # The client's key replays the same SetupIntent; without one, every
    # request is a new attempt (a declined SetupIntent cannot be reused).
    nonce = idempotency_key or uuid.uuid4().hex
    setup = gw_intents.setup_intent_create(
        customer_id=customer.stripe_id,
        idempotency_key=f"subscription-card-{sub.pk}-{nonce}",
        metadata={"subscription": str(sub.pk), "user": str(user.pk)},
    )
    return PaymentMethodSetup(sub, setup.id, setup.client_secret)


def _already_applied(sub: Subscription, setup_intent_id: str) -> bool:
    return SubscriptionEvent.objects.filter(
        subscription=sub, reason=REASON, details__setup_intent=setup_intent_id
    ).exists()


def subscription_payment_method_confirm(
    *, user: User, subscription_id: int, setup_intent_id: str
) -> Subscription:
    """Make the card of a confirmed SetupIntent the subscription's default.

    Raise SubscriptionNotFound, PaymentMethodNotUpdatable, SetupIntentNotFound
    (unknown at Stripe, or another customer's) or PaymentMethodNotConfirmed
    (the client has not confirmed it, or the bank refused).
    """
    sub, customer = _updatable(user=user, subscription_id=subscription_id)
    try:
        setup = gw_intents.setup_intent_retrieve(setup_intent_id=setup_intent_id)
    except PaymentRequestInvalid as exc:
        raise SetupIntentNotFound(setup_intent_id) from exc
    if setup.customer != customer.stripe_id:
        raise SetupIntentNotFound(setup_intent_id)
    if setup.status != IntentStatus.SUCCEEDED or not setup.payment_method:
        raise PaymentMethodNotConfirmed(setup.status)
    if _already_applied(sub, setup.id):
        return sub
    card = gw_methods.subscription_default_payment_method_set(
        customer_id=customer.stripe_id,
        subscription_id=sub.stripe_id,
        payment_method_id=setup.payment_method,
        idempotency_key=f"subscription-card-default-{sub.pk}-{setup.id}",
    )
    with transaction.atomic():
        sub = (
            Subscription.objects.select_for_update()
            .select_related("price__plan", "user")
            .get(pk=sub.pk)
        )
        if _already_applied(sub, setup.id):
            return sub
        sub.default_payment_method = card.id
        sub.payment_method_label = card_label(
            brand=card.card_brand, last4=card.card_last4
        )
        sub.full_clean(validate_constraints=False)
        sub.save(
            update_fields=[
                "default_payment_method",
                "payment_method_label",
                "updated_at",
            ]
        )
        SubscriptionEvent.objects.create(
            subscription=sub,
            from_status=sub.status,
            to_status=sub.status,
            reason=REASON,
            actor=f"user:{user.pk}",
            details={"setup_intent": setup.id, "card": sub.payment_method_label},
        )
        effects._email(sub, "payment_method_updated", f"{sub.pk}:{setup.id}")
        transaction.on_commit(
            partial(
                payment_method_updated.send,
                sender=Subscription,
                subscription_id=sub.pk,
                user_id=sub.user_id,
            )
        )
    return sub
