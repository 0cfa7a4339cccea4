"""Licence keys follow their subscription's access; the guest flow's hooks."""

from typing import Any

from django.dispatch import receiver

from apps.billing import signals as billing_signals
from apps.core.models import Workflow
from apps.core.workflows import workflow_handler
from apps.subscriptions.licence_models import SubscribeFlow
from apps.subscriptions.services import guest_flow
from apps.subscriptions.services.licences import licence_follow_subscription
from apps.subscriptions.signals import access_changed


@receiver(access_changed, dispatch_uid="subscriptions.licences_follow")
def licences_follow_access(*, subscription_id: int, reason: str, **kwargs: Any) -> None:
    # A guest flow issues its own key, so the key reaches the visitor in the
    # flow's email with the sign-in link.
    issue = not SubscribeFlow.objects.filter(subscription_id=subscription_id).exists()
    licence_follow_subscription(
        subscription_id=subscription_id, reason=reason, issue=issue
    )


@receiver(billing_signals.subscription_event, dispatch_uid="subscriptions.guest_paid")
def guest_flow_payment_event(*, stripe_id: str, **kwargs: Any) -> None:
    # A guest's subscription has no row of ours until the saga makes it.
    guest_flow.subscribe_flow_payment_event(stripe_subscription_id=stripe_id)


@workflow_handler(guest_flow.WORKFLOW_NAME, max_attempts=5)
def retry_subscribe_flow(row: Workflow) -> None:
    """Run the flow again from the step that failed; raise if it fails again."""
    guest_flow.subscribe_flow_advance(flow_id=int(row.payload["flow"]))
