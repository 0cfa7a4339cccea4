"""The customer's dunning emails: each sent at most once per case and kind."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.urls import reverse

from apps.core.notifications import notification_enqueue_template

if TYPE_CHECKING:
    from apps.core.models import Notification
    from apps.dunning.models import DunningCase

KINDS = (
    "failed",
    "reminder",
    "final_notice",
    "update_card",
    "authenticate",
    "recovered",
)


def email_key(case: DunningCase, kind: str) -> str:
    return f"dunning:{case.pk}:{kind}"


def case_email_send(*, case: DunningCase, kind: str) -> Notification:
    """Queue the ``kind`` email of ``case``; a second call sends nothing more."""
    site = settings.SITE_URL.rstrip("/")
    sub = case.subscription
    invoice = case.invoice
    return notification_enqueue_template(
        kind=f"dunning.{kind}",
        recipient=sub.user.email,
        idempotency_key=email_key(case, kind),
        template_prefix=f"dunning/email/{kind}",
        context={
            "case": case,
            "subscription": sub,
            "plan_name": sub.price.plan.name,
            "invoice": invoice,
            "grace_until": case.grace_until,
            "update_card_url": site + reverse("subscriptions:account"),
            "pay_url": site + reverse("dunning:case-pay", kwargs={"case_id": case.pk}),
        },
    )
