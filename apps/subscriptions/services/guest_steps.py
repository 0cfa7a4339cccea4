"""The guest saga's steps after payment (see ``guest_flow``), and its undo.

Each step locks the flow, skips itself when a rerun finds it done, and moves
``current_step`` on in the transaction that made its effect.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from apps.accounts.models import User
from apps.billing.gateway import subscriptions as gw
from apps.billing.gateway.refunds import refund_create
from apps.core.models import Notification
from apps.core.notifications import notification_deliver, notification_enqueue_template
from apps.subscriptions.licence_models import SubscribeFlow
from apps.subscriptions.models import (
    Customer,
    Plan,
    PlanPrice,
    Subscription,
    SubscriptionEvent,
)
from apps.subscriptions.services.guest_flow import (
    FlowCannotComplete,
    _mark_step,
    subscribe_flow_complete,
)
from apps.subscriptions.services.licences import licence_issue
from apps.subscriptions.services.sync import subscription_apply

if TYPE_CHECKING:
    from collections.abc import Callable

Step = SubscribeFlow.Step


T = TypeVar("T")


def _required(value: T | None, step: str) -> T:
    if value is None:  # a step ran before the one that makes its input
        raise RuntimeError(f"the {step} step has not run")
    return value


def _locked(flow: SubscribeFlow) -> SubscribeFlow:
    return (
        SubscribeFlow.objects.select_for_update()
        .select_related("price__plan")
        .get(pk=flow.pk)
    )


def identity(flow: SubscribeFlow) -> None:
    """Find the account for the email, or make an unverified one."""
    from allauth.account.models import EmailAddress

    with transaction.atomic():
        flow = _locked(flow)
        if flow.current_step != Step.IDENTITY:
            return
        user = (
            User.objects.filter(email__iexact=flow.email).first()
            or User.objects.filter(
                pk__in=EmailAddress.objects.filter(email__iexact=flow.email).values(
                    "user_id"
                )
            ).first()
        )
        existing = user is not None
        if user is None:
            user = User.objects.create_user(email=flow.email, password=None)
            EmailAddress.objects.create(
                user=user, email=flow.email, primary=True, verified=False
            )
        flow.user = user
        _mark_step(flow, Step.IDENTITY, user=user.pk, existing=existing)
        flow.current_step = Step.SUBSCRIPTION
        flow.save(update_fields=["user", "steps", "current_step", "updated_at"])


def _claim_subscription(flow: SubscribeFlow, snap_id: str) -> None:
    with transaction.atomic():
        flow = _locked(flow)
        if flow.subscription_id is not None:
            return
        price = PlanPrice.objects.select_related("plan").get(pk=flow.price_id)
        if not price.active or price.plan.status != Plan.Status.ACTIVE:
            raise FlowCannotComplete(
                "plan_unavailable",
                f"The {price.plan.name} plan stopped being offered while your "
                "payment went through.",
            )
        user = _required(flow.user, "identity")
        if not Customer.objects.filter(user=user).exists():
            # The guest's Stripe customer becomes the account's.
            Customer.objects.create(user=user, stripe_id=flow.stripe_customer_id)
        try:
            with transaction.atomic():
                sub = Subscription.objects.create(
                    user=user, price=price, stripe_id=snap_id
                )
        except IntegrityError as exc:
            raise FlowCannotComplete(
                "already_subscribed",
                "This email's account already has a subscription, so this "
                "purchase could not be added to it.",
            ) from exc
        SubscriptionEvent.objects.create(
            subscription=sub,
            to_status=sub.status,
            reason="guest_subscribe",
            actor=f"flow:{flow.token}",
            amount_minor=price.amount_minor,
            currency=price.currency,
        )
        PlanPrice.objects.filter(pk=price.pk, used_at__isnull=True).update(
            used_at=timezone.now()
        )
        flow.subscription = sub
        flow.save(update_fields=["subscription", "updated_at"])


def subscription(flow: SubscribeFlow) -> None:
    """Our subscription row for the paid Stripe one, on the found account."""
    snap = gw.subscription_retrieve(subscription_id=flow.stripe_subscription_id)
    _claim_subscription(flow, snap.id)
    flow.refresh_from_db()
    subscription_apply(
        subscription_id=_required(flow.subscription_id, "subscription"),
        snap=snap,
        reason="guest_subscribe",
        actor="stripe",
    )
    with transaction.atomic():
        flow = _locked(flow)
        if flow.current_step == Step.SUBSCRIPTION:
            _mark_step(flow, Step.SUBSCRIPTION, subscription=flow.subscription_id)
            flow.current_step = Step.LICENCE
            flow.save(update_fields=["steps", "current_step", "updated_at"])


def sign_in_url(user: User) -> str:
    """A one-use link that signs the user in (void once they have signed in)."""
    path = reverse(
        "subscriptions:guest-sign-in",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    return settings.SITE_URL.rstrip("/") + path


def licence(flow: SubscribeFlow) -> None:
    """Issue the key and, in the same transaction, the email that carries it."""
    with transaction.atomic():
        flow = _locked(flow)
        if flow.current_step != Step.LICENCE:
            return
        if flow.licence_id is not None:  # issued and mailed by an earlier run
            flow.current_step = Step.NOTIFICATION
            flow.save(update_fields=["current_step", "updated_at"])
            return
        user = _required(flow.user, "identity")
        issued = licence_issue(
            subscription_id=_required(flow.subscription_id, "subscription"),
            email_key=False,
        )
        if issued is None:
            raise RuntimeError("the subscription grants no licence yet")
        existing = bool(flow.steps.get(Step.IDENTITY, {}).get("existing"))
        note = notification_enqueue_template(
            kind="subscriptions.guest_welcome",
            recipient=flow.email,
            idempotency_key=f"subscriptions.guest_welcome:{flow.token}",
            template_prefix="subscriptions/email/guest_welcome",
            context={
                "flow": flow,
                "plan": flow.price.plan,
                "key": issued.key,
                "seats": issued.licence.seats,
                "existing": existing,
                "sign_in_url": sign_in_url(user),
                "login_url": settings.SITE_URL.rstrip("/") + reverse("account_login"),
            },
        )
        flow.licence = issued.licence
        flow.notification_id = note.pk
        _mark_step(flow, Step.LICENCE, licence=issued.licence.pk)
        flow.current_step = Step.NOTIFICATION
        flow.save(
            update_fields=[
                "licence",
                "notification_id",
                "steps",
                "current_step",
                "updated_at",
            ]
        )


def notification(flow: SubscribeFlow) -> None:
    """See the welcome email sent (delivery claims the row: it sends once)."""
    sent = Notification.Status.SENT
    note = Notification.objects.get(pk=_required(flow.notification_id, "licence"))
    if note.status != sent:
        note = notification_deliver(notification_id=note.pk)
    if note.status != sent:
        raise RuntimeError(f"the welcome email is {note.status}, not sent")
    with transaction.atomic():
        flow = _locked(flow)
        if flow.current_step == Step.NOTIFICATION:
            _mark_step(flow, Step.NOTIFICATION, notification=note.pk)
            flow.save(update_fields=["steps", "updated_at"])
    subscribe_flow_complete(flow_id=flow.pk)


STEPS: dict[str, Callable[[SubscribeFlow], None]] = {
    Step.IDENTITY: identity,
    Step.SUBSCRIPTION: subscription,
    Step.LICENCE: licence,
    Step.NOTIFICATION: notification,
    Step.DONE: lambda flow: subscribe_flow_complete(flow_id=flow.pk),
}


def run(flow: SubscribeFlow, step: str) -> None:
    STEPS[step](flow)


def undo_payment(flow: SubscribeFlow) -> None:
    """Cancel the Stripe subscription and refund its first payment in full.

    Our subscription row (if made) follows Stripe to canceled, which revokes
    its licence through the licence handler.
    """
    token = str(flow.token)
    if flow.stripe_subscription_id:
        snap = gw.subscription_cancel(
            subscription_id=flow.stripe_subscription_id,
            at_period_end=False,
            idempotency_key=f"subscribe-flow-cancel-{token}",
        )
        if flow.subscription_id is not None:
            subscription_apply(
                subscription_id=flow.subscription_id,
                snap=snap,
                reason="guest_compensation",
                actor=f"flow:{token}",
            )
    intent = flow.steps.get(Step.PAYMENT, {}).get("payment_intent")
    if intent:
        refund = refund_create(
            payment_intent_id=intent,
            idempotency_key=f"subscribe-flow-refund-{token}",
            metadata={"subscribe_flow": token},
        )
        with transaction.atomic():
            locked = _locked(flow)
            locked.steps = {
                **locked.steps,
                "compensation": {"refund": refund.id, "at": timezone.now().isoformat()},
            }
            locked.save(update_fields=["steps", "updated_at"])


def email_failure(flow: SubscribeFlow, *, why: str) -> None:
    notification_enqueue_template(
        kind="subscriptions.guest_failed",
        recipient=flow.email,
        idempotency_key=f"subscriptions.guest_failed:{flow.token}",
        template_prefix="subscriptions/email/guest_failed",
        context={
            "flow": flow,
            "plan": flow.price.plan,
            "why": why,
            "refunded": bool(flow.steps.get(Step.PAYMENT, {}).get("payment_intent")),
        },
    )
