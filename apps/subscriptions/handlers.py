"""Drop the cached plan catalogue whenever what it shows changes."""

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from apps.subscriptions import selectors
from apps.subscriptions.models import Feature, Plan, PlanPrice


@receiver(post_save, sender=Feature)
@receiver(post_delete, sender=Feature)
@receiver(post_save, sender=Plan)
@receiver(post_delete, sender=Plan)
@receiver(post_save, sender=PlanPrice)
@receiver(post_delete, sender=PlanPrice)
def catalogue_changed(**kwargs: Any) -> None:
    # Now and after commit: a reader between the two could cache the old rows.
    selectors.catalogue_invalidate()
    transaction.on_commit(selectors.catalogue_invalidate)
