"""Subscribe: the Stripe customer once per user, then one subscription.

The order is: claim our row (transaction; the one-live-per-user constraint
makes parallel requests collide here, before Stripe) → create the customer
and the subscription at Stripe (no transaction, idempotency key from our row)
→ apply Stripe's answer (transaction). A claim whose request died before
Stripe answered is taken over after ``CLAIM_LEASE`` with the same key, so
Stripe replays the subscription instead of creating a second one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.billing.exceptions import TransientError
from apps.billing.gateway import subscriptions as gw
from apps.core.exceptions import ApplicationError
from apps.subscriptions import selectors
from apps.subscriptions.exceptions import (
    AlreadySubscribed,
    PlanPrivate,
    PriceInactive,
    PriceNotFound,
    SubscriptionCurrencyMismatch,
    SubscriptionPending,
)
from apps.subscriptions.models import (
    LIVE_STATUSES,
    SUBSCRIPTION_STATES,
    Customer,
    Plan,
    PlanPrice,
    Subscription,
    SubscriptionEvent,
    SubscriptionStatus,
)
from apps.subscriptions.services import coupons as sub_coupons
from apps.subscriptions.services.sync import subscription_apply

if TYPE_CHECKING:
    from apps.accounts.models import User

CLAIM_LEASE = timedelta(minutes=2)


@dataclass(frozen=True, slots=True)
class SubscriptionStart:
    subscription: Subscription
    # What the client confirms; empty when nothing is left to confirm.
    client_secret: str
    kind: str  # "payment_intent", "setup_intent" or ""
    # The first invoice's amount after any coupon; None when not known.
    amount_due_minor: int | None = None


def customer_get_or_create(*, user: User) -> Customer:
    """Return the user's Stripe customer, creating it at Stripe once."""
    existing = Customer.objects.filter(user=user).first()
    if existing is not None:
        return existing
    # The join time keeps keys apart when ids repeat (a database restored or
    # reset against the same Stripe account).
    stripe_id = gw.customer_create_for_user(
        user_id=user.pk,
        email=user.email,
        name=getattr(user, "name", "") or "",
        idempotency_key=f"customer-user-{user.pk}-{user.date_joined.timestamp():.6f}",
    )
    try:
        with transaction.atomic():
            return Customer.objects.create(user=user, stripe_id=stripe_id)
    except IntegrityError:
        return Customer.objects.get(user=user)


def price_for_subscribe(*, price_id: int, user: User) -> PlanPrice:
    price = PlanPrice.objects.select_related("plan").filter(pk=price_id).first()
    if price is None:
        raise PriceNotFound(price_id)
    if (
        not price.active
        or price.plan.status != Plan.Status.ACTIVE
        or not price.stripe_price_id
    ):
        raise PriceInactive(price_id)
    if not selectors.plan_is_available_to(plan=price.plan, user=user):
        raise PlanPrivate(price.plan.slug)
    # A Stripe customer is billed in one currency for good.
    other = (
        Subscription.objects.filter(user=user, stripe_id__gt="")
        .exclude(price__currency=price.currency)
        .values_list("price__currency", flat=True)
        .first()
    )
    if other:
        raise SubscriptionCurrencyMismatch(other, price.currency)
    return price


def _claim(
    *, user: User, price: PlanPrice, coupon: str = ""
) -> tuple[Subscription, bool]:
    """Insert our incomplete row, or return the live one; (row, claimed).

    The coupon's use is counted in the same transaction: a refusal (limit
    reached meanwhile) rolls the row back.
    """
    try:
        with transaction.atomic():
            sub = Subscription(user=user, price=price)
            sub.full_clean(validate_constraints=False)
            sub.save()
            if coupon:
                sub_coupons.subscription_coupon_redeem(
                    subscription=sub, code=coupon, price=price
                )
            SubscriptionEvent.objects.create(
                subscription=sub,
                to_status=sub.status,
                reason="subscribe",
                actor=f"user:{user.pk}",
                amount_minor=price.amount_minor,
                currency=price.currency,
            )
            PlanPrice.objects.filter(pk=price.pk, used_at__isnull=True).update(
                used_at=timezone.now()
            )
            return sub, True
    except IntegrityError:
        live = Subscription.objects.filter(user=user, status__in=LIVE_STATUSES).first()
        if live is None:  # the other one ended meanwhile: try once more
            return _claim(user=user, price=price, coupon=coupon)
        return live, False


def _create_key(sub: Subscription) -> str:
    # Stable for a takeover of the same row; distinct if ids ever repeat.
    return f"subscription-create-{sub.pk}-{sub.created_at.timestamp():.6f}"


def _take_over_stale_claim(sub: Subscription) -> bool:
    """Take a claim whose request died before Stripe answered."""
    stale = timezone.now() - CLAIM_LEASE
    return bool(
        Subscription.objects.filter(
            pk=sub.pk, stripe_id="", updated_at__lt=stale
        ).update(updated_at=timezone.now())
    )


def _expire_unpaid(sub: Subscription, *, user: User) -> None:
    """End our incomplete subscription at Stripe so another price can start."""
    snap = gw.subscription_cancel(
        subscription_id=sub.stripe_id,
        at_period_end=False,
        idempotency_key=f"subscription-replace-{sub.pk}",
    )
    subscription_apply(
        subscription_id=sub.pk, snap=snap, reason="replaced", actor=f"user:{user.pk}"
    )
    sub_coupons.subscription_coupon_release(subscription_id=sub.pk)


def _give_up(sub: Subscription, *, user: User, error: str) -> None:
    def write(row: Subscription, source: str, to: str) -> None:
        SubscriptionEvent.objects.create(
            subscription=row,
            from_status=source,
            to_status=to,
            reason="stripe_refused",
            actor=f"user:{user.pk}",
            details={"error": error[:500]},
        )

    with transaction.atomic():
        row = Subscription.objects.select_for_update().get(pk=sub.pk)
        SUBSCRIPTION_STATES.move(
            row, SubscriptionStatus.INCOMPLETE_EXPIRED, event=write
        )
        sub_coupons.subscription_coupon_release(subscription_id=sub.pk)


def subscription_create(
    *,
    user: User,
    price_id: int,
    coupon: str | None = None,
    idempotency_key: str = "",
) -> SubscriptionStart:
    """Start a subscription; the client confirms the returned secret.

    A repeat while the first payment is still unconfirmed returns the same
    subscription and secret (another price replaces it).

    A coupon is checked and counted in the transaction that writes our row (a
    refusal writes nothing; exact under concurrency), then pushed to Stripe
    before the subscription is created with it. A repeat of an unconfirmed
    subscription returns it with the discount it started with.

    Raise PriceNotFound, PriceInactive, PlanPrivate, SubscriptionCurrencyMismatch,
    CouponNotFound, CouponNotApplicable (``coupon_not_valid_for_subscriptions``
    and the other coupon codes), AlreadySubscribed (a live subscription exists:
    change plan instead) or SubscriptionPending (a parallel request is creating
    it).
    """
    price = price_for_subscribe(price_id=price_id, user=user)
    coupon = (coupon or "").strip()
    for _ in range(2):
        sub, claimed = _claim(user=user, price=price, coupon=coupon)
        if claimed or _take_over_stale_claim(sub):
            break
        if not sub.stripe_id:
            raise SubscriptionPending()
        if sub.status != SubscriptionStatus.INCOMPLETE:
            raise AlreadySubscribed(sub.pk)
        snap = gw.subscription_retrieve(subscription_id=sub.stripe_id)
        sub = subscription_apply(
            subscription_id=sub.pk, snap=snap, reason="subscribe_again", actor="stripe"
        )
        if sub.status != SubscriptionStatus.INCOMPLETE:
            raise AlreadySubscribed(sub.pk)
        if sub.price_id == price.pk:
            return SubscriptionStart(
                sub,
                snap.client_secret,
                snap.secret_kind,
                snap.latest_invoice_amount_due_minor,
            )
        _expire_unpaid(sub, user=user)
    else:  # pragma: no cover - the replaced one cannot be live again
        raise SubscriptionPending()

    customer = customer_get_or_create(user=user)
    try:
        # The coupon counted for this row (a takeover's may be the first's).
        stripe_coupon = sub_coupons.subscription_stripe_coupon(subscription_id=sub.pk)
        snap = gw.subscription_create(
            customer_id=customer.stripe_id,
            price_id=price.stripe_price_id,
            trial_days=price.plan.trial_days,
            coupon=stripe_coupon,
            metadata={"subscription": str(sub.pk), "user": str(user.pk)},
            idempotency_key=_create_key(sub),
        )
    except TransientError:
        raise  # the claim stays; a retry after the lease takes it over
    except ApplicationError as exc:
        _give_up(sub, user=user, error=exc.message)
        raise
    sub = subscription_apply(
        subscription_id=sub.pk, snap=snap, reason="subscribe", actor=f"user:{user.pk}"
    )
    return SubscriptionStart(
        sub, snap.client_secret, snap.secret_kind, snap.latest_invoice_amount_due_minor
    )
