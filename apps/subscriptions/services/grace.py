"""The grace period of a past-due subscription, set by whoever runs dunning.

Subscriptions sit below dunning in the layering, so dunning calls this to
say how long a subscriber whose renewal failed keeps access; entitlements and
licences read it through ``Subscription.grants_access``.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from apps.subscriptions.models import Subscription
from apps.subscriptions.services.effects import access_may_have_changed


@transaction.atomic
def subscription_grace_set(
    *, subscription_id: int, until: datetime | None, reason: str = "grace"
) -> Subscription:
    """Keep access until ``until`` while past_due (None: clear the grace).

    A no-op when the value is unchanged, so a replayed dunning step sends no
    second access-changed signal.
    """
    sub = Subscription.objects.select_for_update().get(pk=subscription_id)
    if sub.grace_until != until:
        sub.grace_until = until
        sub.save(update_fields=["grace_until", "updated_at"])
        access_may_have_changed(sub, reason)
    return sub
