"""The policy a new case follows."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from apps.dunning.models import DunningPolicy


def policy_default() -> DunningPolicy:
    """Return the default policy, creating it (issue 15's defaults) the first time."""
    policy = DunningPolicy.objects.filter(is_default=True).first()
    if policy is not None:
        return policy
    try:
        with transaction.atomic():
            return DunningPolicy.objects.create(name="Default", is_default=True)
    except IntegrityError:  # created meanwhile by another process
        return DunningPolicy.objects.get(is_default=True)
