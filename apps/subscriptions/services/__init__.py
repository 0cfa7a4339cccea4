"""Writes for the subscriptions app: plans (plans.py) and subscriptions."""

from apps.subscriptions.services import reconcile
from apps.subscriptions.services.change import (
    ChangePreview,
    scheduled_changes_apply_due,
    subscription_change,
    subscription_change_preview,
)
from apps.subscriptions.services.grace import subscription_grace_set
from apps.subscriptions.services.invoices import invoice_apply, invoice_sync
from apps.subscriptions.services.manage import (
    subscription_cancel,
    subscription_resume,
)
from apps.subscriptions.services.plans import (
    PriceAmountChange,
    plan_features_validate,
    plan_limits_validate,
    plan_mark_pending,
    plan_price_change_amount,
    plan_push,
    plan_queue_push,
)
from apps.subscriptions.services.portal import (
    billing_portal_available,
    billing_portal_open,
)
from apps.subscriptions.services.subscribe import (
    SubscriptionStart,
    customer_get_or_create,
    subscription_create,
)
from apps.subscriptions.services.sync import subscription_apply, subscription_sync

__all__ = [
    "ChangePreview",
    "PriceAmountChange",
    "SubscriptionStart",
    "billing_portal_available",
    "billing_portal_open",
    "customer_get_or_create",
    "invoice_apply",
    "invoice_sync",
    "plan_features_validate",
    "plan_limits_validate",
    "plan_mark_pending",
    "plan_price_change_amount",
    "plan_push",
    "plan_queue_push",
    "reconcile",
    "scheduled_changes_apply_due",
    "subscription_apply",
    "subscription_cancel",
    "subscription_change",
    "subscription_change_preview",
    "subscription_create",
    "subscription_grace_set",
    "subscription_resume",
    "subscription_sync",
]
