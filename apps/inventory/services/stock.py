"""Stock counts: lock the rows, adjust or set on-hand, record each change."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.db import transaction

from apps.core.queue import enqueue_on_commit
from apps.inventory.exceptions import InvalidQuantity, NegativeStock, VariantUnavailable
from apps.inventory.models import (
    DEFAULT_LOCATION,
    BackInStockSubscription,
    StockItem,
    StockMovement,
    Variant,
)

if TYPE_CHECKING:
    # Inventory sits below accounts, so it names the user model the way Django
    # does: django-stubs' _AnyUser is AUTH_USER_MODEL | AnonymousUser (stub-only).
    from django.contrib.auth.models import _AnyUser


def _lock_stock_items(variant_ids: Iterable[int]) -> dict[int, StockItem]:
    """Create missing default-location rows, then lock them in primary-key order."""
    ids = sorted(set(variant_ids))
    if not ids:
        return {}

    def lock() -> dict[int, StockItem]:
        items = StockItem.objects.select_for_update().filter(
            variant_id__in=ids, location=DEFAULT_LOCATION
        )
        return {item.variant_id: item for item in items.order_by("pk")}

    # Lock first: the rows almost always exist, so the lock is the only
    # query; a missing row is created and the set locked again.
    locked = lock()
    missing = [vid for vid in ids if vid not in locked]
    if not missing:
        return locked
    StockItem.objects.bulk_create(
        [StockItem(variant_id=vid, location=DEFAULT_LOCATION) for vid in missing],
        ignore_conflicts=True,
    )
    return lock()


@transaction.atomic
def stock_adjust(
    *,
    variant_id: int,
    quantity_delta: int,
    reason: str,
    actor: _AnyUser | None = None,
    reference: str = "",
) -> StockMovement:
    """Change on-hand stock by ``quantity_delta`` and record it in the ledger.

    When stock rises and someone waits for this variant, back-in-stock alerts
    are queued after commit.

    Raise NegativeStock when the result would be below zero, InvalidQuantity
    for a zero delta or an unknown reason, VariantUnavailable for an unknown
    variant.
    """
    quantity_delta = int(quantity_delta)
    if quantity_delta == 0:
        raise InvalidQuantity("The change must not be zero.")
    if reason not in StockMovement.Reason.values:
        raise InvalidQuantity(f"Unknown reason {reason!r}.", code="invalid_reason")
    if not Variant.objects.filter(pk=variant_id).exists():
        raise VariantUnavailable("No such variant.", details={"variant_id": variant_id})
    item = _lock_stock_items([variant_id])[variant_id]
    if item.on_hand + quantity_delta < 0:
        raise NegativeStock(
            f"Only {item.on_hand} on hand; cannot remove {-quantity_delta}.",
            details={"on_hand": item.on_hand, "quantity_delta": quantity_delta},
        )
    item.on_hand += quantity_delta
    item.save(update_fields=["on_hand", "updated_at"])
    movement = StockMovement.objects.create(
        variant_id=variant_id,
        location=item.location,
        quantity=quantity_delta,
        on_hand_after=item.on_hand,
        reason=reason,
        actor=(
            actor if actor is not None and actor.is_authenticated and actor.pk else None
        ),
        reference=reference[:255],
    )
    if (
        quantity_delta > 0
        and BackInStockSubscription.objects.filter(
            variant_id=variant_id, sent_at__isnull=True
        ).exists()
    ):
        from apps.inventory.tasks import send_back_in_stock_alerts

        enqueue_on_commit(send_back_in_stock_alerts, variant_id)
    return movement


@transaction.atomic
def stock_set(
    *,
    variant_id: int,
    on_hand: int,
    reason: str,
    actor: _AnyUser | None = None,
    reference: str = "",
) -> StockMovement | None:
    """Set on-hand stock to an absolute count through stock_adjust (no-op if equal)."""
    if on_hand < 0:
        raise NegativeStock("Stock cannot be negative.", details={"on_hand": on_hand})
    item = _lock_stock_items([variant_id])[variant_id]
    delta = on_hand - item.on_hand
    if delta == 0:
        return None
    return stock_adjust(
        variant_id=variant_id,
        quantity_delta=delta,
        reason=reason,
        actor=actor,
        reference=reference,
    )
