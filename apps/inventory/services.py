"""Stock writes: reserve, commit, release, adjust, expire, back-in-stock alerts.

Locking: every write that reads availability first locks the StockItem rows of
the variants involved with ``select_for_update()`` ordered by primary key, so
two multi-line reservations touching the same variants in opposite orders
queue instead of deadlocking; reservations are re-read after the lock. On
SQLite ``select_for_update`` is a no-op, but IMMEDIATE transactions serialize
writers. No lock is held across a network call: callers reserve, then talk to
Stripe outside the transaction, then commit.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, F, IntegerField, Q, QuerySet, Sum, Value, When
from django.urls import reverse
from django.utils import timezone

from apps.core.exceptions import InvalidTransition
from apps.core.notifications import notification_enqueue_template
from apps.core.queue import enqueue_on_commit
from apps.inventory import page_cache
from apps.inventory.exceptions import (
    InvalidQuantity,
    NegativeStock,
    OutOfStock,
    QuantityLimitExceeded,
    ReservationExpired,
    ReservationNotFound,
    ReservationReleased,
    VariantUnavailable,
)
from apps.inventory.models import (
    DEFAULT_LOCATION,
    RESERVATION_TRANSITIONS,
    BackInStockSubscription,
    Reservation,
    StockItem,
    StockMovement,
    Variant,
)
from apps.inventory.selectors import variant_availability_map

if TYPE_CHECKING:
    # Inventory sits below accounts, so it names the user model the way Django
    # does: django-stubs' _AnyUser is AUTH_USER_MODEL | AnonymousUser (stub-only).
    from django.contrib.auth.models import _AnyUser

logger = logging.getLogger(__name__)


def reservation_states_to(to: str) -> frozenset[str]:
    """The states RESERVATION_TRANSITIONS lets a reservation leave for ``to``."""
    return frozenset(
        state for state, targets in RESERVATION_TRANSITIONS.items() if to in targets
    )


# Holds that can still be committed (active, or lapsed but not yet closed).
_OPEN = sorted(reservation_states_to(Reservation.Status.COMMITTED))
_RELEASABLE = sorted(reservation_states_to(Reservation.Status.RELEASED))


@dataclass(frozen=True, slots=True)
class ReservationRequest:
    variant_id: int
    quantity: int


# --- helpers -----------------------------------------------------------------


def _lock_stock_items(variant_ids: Iterable[int]) -> dict[int, StockItem]:
    """Create missing default-location rows, then lock them in primary-key order."""
    ids = sorted(set(variant_ids))
    if not ids:
        return {}
    existing = set(
        StockItem.objects.filter(
            variant_id__in=ids, location=DEFAULT_LOCATION
        ).values_list("variant_id", flat=True)
    )
    missing = [vid for vid in ids if vid not in existing]
    if missing:
        StockItem.objects.bulk_create(
            [StockItem(variant_id=vid, location=DEFAULT_LOCATION) for vid in missing],
            ignore_conflicts=True,
        )
    items = StockItem.objects.select_for_update().filter(
        variant_id__in=ids, location=DEFAULT_LOCATION
    )
    return {item.variant_id: item for item in items.order_by("pk")}


def _held_from_stock(
    variant_ids: Iterable[int], *, exclude_ref: str | None = None
) -> dict[int, int]:
    """Units held from stock by active, unexpired reservations, per variant."""
    qs = Reservation.objects.filter(
        variant_id__in=list(variant_ids),
        status=Reservation.Status.ACTIVE,
        expires_at__gt=timezone.now(),
    )
    if exclude_ref is not None:
        qs = qs.exclude(ref=exclude_ref)
    rows = (
        qs.order_by()
        .values("variant_id")
        .annotate(total=Sum(F("quantity") - F("backordered_quantity")))
    )
    return {row["variant_id"]: int(row["total"] or 0) for row in rows}


def _stock_take(
    stock: dict[int, StockItem],
    taken: dict[int, int],
    *,
    variants: dict[int, Variant],
    now: datetime,
) -> None:
    """Decrement several locked stock rows in one UPDATE, none below zero.

    Each row only changes if it still holds its units; a count short of the
    rows asked for raises OutOfStock (and rolls the caller back) instead of
    letting a stale read oversell.
    """
    if not taken:
        return
    items = [stock[vid] for vid in sorted(taken)]
    enough = Q()
    take = Case(
        *[When(pk=item.pk, then=Value(taken[item.variant_id])) for item in items],
        default=Value(0),
        output_field=IntegerField(),
    )
    for item in items:
        enough |= Q(pk=item.pk, on_hand__gte=taken[item.variant_id])
    updated = StockItem.objects.filter(enough).update(
        on_hand=F("on_hand") - take, updated_at=now
    )
    page_cache.catalogue_changed()  # a bulk UPDATE sends no post_save
    if updated != len(items):
        raise _out_of_stock(
            [
                {
                    "sku": variants[item.variant_id].sku,
                    "requested": taken[item.variant_id],
                    "available": item.on_hand,
                }
                for item in items
            ]
        )
    for item in items:
        item.on_hand -= taken[item.variant_id]
        item.updated_at = now


def _merge_lines(items: Sequence[ReservationRequest]) -> dict[int, int]:
    merged: dict[int, int] = defaultdict(int)
    for item in items:
        if int(item.quantity) < 1:
            raise InvalidQuantity(
                "Quantities must be 1 or more.",
                details={"variant_id": item.variant_id, "quantity": item.quantity},
            )
        merged[int(item.variant_id)] += int(item.quantity)
    if not merged:
        raise InvalidQuantity("Nothing to reserve.")
    return dict(merged)


def _out_of_stock(lines: list[dict], *, expired: bool = False) -> OutOfStock:
    skus = ", ".join(line["sku"] for line in lines)
    if expired:
        return ReservationExpired(
            f"The hold on your items expired and some are no longer available: {skus}.",
            details={"lines": lines},
        )
    return OutOfStock(
        f"Not enough stock for: {skus}.",
        details={"lines": lines},
    )


# --- reservations ------------------------------------------------------------


def reservations_transition(
    *,
    reservations: QuerySet[Reservation],
    to: str,
    now: datetime | None = None,
) -> int:
    """Move the given reservations to ``to`` as RESERVATION_TRANSITIONS allows,
    in one conditional UPDATE; return how many moved.

    This is the one place a reservation's status changes. It works on sets of
    rows because the services are bulk and idempotent: a row already at ``to``
    is a no-op, and so is a row whose state the table does not let move to
    ``to`` (a committed hold stays committed when released again). Callers that
    need every row to move lock them first and compare the count.

    Raise InvalidTransition for a status that is not a Reservation.Status.
    """
    if to not in Reservation.Status.values:
        raise InvalidTransition(
            f"A reservation has no status {to!r}.", details={"to": to}
        )
    moved = reservations.filter(status__in=sorted(reservation_states_to(to))).update(
        status=to, updated_at=now or timezone.now()
    )
    if moved:
        page_cache.catalogue_changed()  # held units shown on pages changed
    return moved


@transaction.atomic
def stock_reserve(
    *, items: Sequence[ReservationRequest], ref: str, ttl: timedelta
) -> list[Reservation]:
    """Hold units for ``ref`` until now + ttl, all lines or none.

    Re-reserving for the same ref replaces its previous open hold. Variants
    that allow backorder are held beyond stock; the excess is recorded as
    ``backordered_quantity``.

    Raise OutOfStock (with every short line) when any line cannot be held,
    VariantUnavailable for unknown or inactive variants, QuantityLimitExceeded
    above a variant's max_per_order, InvalidQuantity for quantities below 1.
    """
    wanted = _merge_lines(items)
    variants = Variant.objects.select_related("product").in_bulk(list(wanted))
    for variant_id in wanted:
        variant = variants.get(variant_id)
        if variant is None or not (variant.is_active and variant.product.is_active):
            raise VariantUnavailable(
                "This item is not available.", details={"variant_id": variant_id}
            )
        limit = variant.max_per_order
        if limit is not None and wanted[variant_id] > limit:
            raise QuantityLimitExceeded(
                f"You can order at most {limit} of {variant.sku}.",
                details={
                    "sku": variant.sku,
                    "requested": wanted[variant_id],
                    "max_per_order": limit,
                },
            )

    tracked = [vid for vid in wanted if variants[vid].track_stock]
    stock = _lock_stock_items(tracked)
    # Re-read holds only after the lock: they may have changed while waiting.
    list(
        Reservation.objects.select_for_update()
        .filter(ref=ref, status__in=_RELEASABLE)
        .order_by("pk")
    )
    held = _held_from_stock(tracked, exclude_ref=ref)

    plan: list[tuple[int, int, int]] = []  # variant_id, quantity, backordered
    short: list[dict] = []
    for variant_id in sorted(wanted):
        variant = variants[variant_id]
        quantity = wanted[variant_id]
        if not variant.track_stock:
            plan.append((variant_id, quantity, 0))
            continue
        available = max(0, stock[variant_id].on_hand - held.get(variant_id, 0))
        from_stock = min(quantity, available)
        backordered = quantity - from_stock
        if backordered and not variant.allow_backorder:
            short.append(
                {"sku": variant.sku, "requested": quantity, "available": available}
            )
            continue
        plan.append((variant_id, quantity, backordered))
    if short:
        raise _out_of_stock(short)

    now = timezone.now()
    reservations_transition(
        reservations=Reservation.objects.filter(ref=ref),
        to=Reservation.Status.RELEASED,
        now=now,
    )
    page_cache.catalogue_changed()  # pages show units net of holds
    return Reservation.objects.bulk_create(
        [
            Reservation(
                variant_id=variant_id,
                quantity=quantity,
                backordered_quantity=backordered,
                ref=ref,
                expires_at=now + ttl,
                status=Reservation.Status.ACTIVE,
            )
            for variant_id, quantity, backordered in plan
        ]
    )


@transaction.atomic
def stock_commit(*, ref: str) -> list[Reservation]:
    """Turn the open hold for ``ref`` into a sale: decrement on-hand stock by the
    non-backordered units and write a ``sale`` movement per line.

    Idempotent: committing a committed ref returns its reservations unchanged.
    A hold that expired is still committed if its units are still there.

    Raise ReservationExpired (an OutOfStock) when an expired hold's units were
    taken meanwhile, OutOfStock when stock was adjusted below the hold,
    ReservationReleased when the hold was released, ReservationNotFound when
    the ref has no reservations.
    """
    reservations = list(
        Reservation.objects.filter(ref=ref).select_related("variant").order_by("pk")
    )
    if not reservations:
        raise ReservationNotFound("No reservation for this reference.")
    open_ids = [r.pk for r in reservations if r.status in _OPEN]
    if not open_ids:
        committed = [
            r for r in reservations if r.status == Reservation.Status.COMMITTED
        ]
        if committed:
            return committed
        raise ReservationReleased("This reservation was released.")

    variants = {r.variant_id: r.variant for r in reservations}
    stock = _lock_stock_items(
        vid for vid, variant in variants.items() if variant.track_stock
    )
    # Re-read after locking: a concurrent commit may have finished meanwhile.
    reservations = list(
        Reservation.objects.select_for_update()
        .filter(pk__in=open_ids, status__in=_OPEN)
        .order_by("pk")
    )
    if not reservations:
        # Only a concurrent commit of these very rows makes this a success;
        # a release (or a re-reserve replacing them) while we waited is not.
        if not Reservation.objects.filter(
            pk__in=open_ids, status=Reservation.Status.COMMITTED
        ).exists():
            raise ReservationReleased("This reservation was released.")
        return list(
            Reservation.objects.filter(
                ref=ref, status=Reservation.Status.COMMITTED
            ).order_by("pk")
        )

    now = timezone.now()
    held_by_others = _held_from_stock(stock, exclude_ref=ref)
    needed: dict[int, int] = defaultdict(int)
    for r in reservations:
        if variants[r.variant_id].track_stock:
            needed[r.variant_id] += r.stock_quantity

    short: list[dict] = []
    expired_short = False
    for r in reservations:
        variant = variants[r.variant_id]
        if not variant.track_stock:
            continue
        on_hand = stock[r.variant_id].on_hand
        is_expired = r.status == Reservation.Status.EXPIRED or r.expires_at <= now
        # An expired hold no longer protects its units: others' holds come first.
        room = on_hand - held_by_others.get(r.variant_id, 0) if is_expired else on_hand
        if needed[r.variant_id] > room:
            expired_short = expired_short or is_expired
            short.append(
                {
                    "sku": variant.sku,
                    "requested": r.quantity,
                    "available": max(0, room),
                }
            )
    if short:
        raise _out_of_stock(short, expired=expired_short)

    _stock_take(
        stock,
        {vid: qty for vid, qty in needed.items() if qty},
        variants=variants,
        now=now,
    )
    movements = []
    for r in reservations:
        if variants[r.variant_id].track_stock and r.stock_quantity:
            movements.append(
                StockMovement(
                    variant_id=r.variant_id,
                    location=DEFAULT_LOCATION,
                    quantity=-r.stock_quantity,
                    on_hand_after=stock[r.variant_id].on_hand,
                    reason=StockMovement.Reason.SALE,
                    reference=ref[:255],
                )
            )
    StockMovement.objects.bulk_create(movements)
    moved = reservations_transition(
        reservations=Reservation.objects.filter(pk__in=[r.pk for r in reservations]),
        to=Reservation.Status.COMMITTED,
        now=now,
    )
    if moved != len(reservations):  # they are locked: only a bug gets here
        raise InvalidTransition(
            "Some of these reservations cannot be committed.",
            details={"ref": ref},
        )
    return list(
        Reservation.objects.filter(
            ref=ref, status=Reservation.Status.COMMITTED
        ).order_by("pk")
    )


@transaction.atomic
def stock_release(*, ref: str) -> int:
    """Release the open hold for ``ref``; return how many lines were released.

    Idempotent: releasing again (or releasing a committed ref) changes nothing.
    """
    return reservations_transition(
        reservations=Reservation.objects.filter(ref=ref),
        to=Reservation.Status.RELEASED,
    )


def reservations_expire() -> int:
    """Mark active holds past their expiry as expired; return how many.

    Availability already ignores them the moment they expire; this keeps the
    status column truthful for admin and reports.
    """
    now = timezone.now()
    return reservations_transition(
        reservations=Reservation.objects.filter(expires_at__lte=now),
        to=Reservation.Status.EXPIRED,
        now=now,
    )


# --- stock adjustments -------------------------------------------------------


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


# --- back in stock -----------------------------------------------------------


def back_in_stock_subscribe(
    *,
    variant_id: int,
    email: str,
    user: _AnyUser | None = None,
) -> BackInStockSubscription:
    """Ask for one email when the variant is back; subscribing twice is a no-op.

    Raise VariantUnavailable for unknown or inactive variants.
    """
    email = email.strip().lower()
    variant = Variant.objects.select_related("product").filter(pk=variant_id).first()
    if variant is None or not (variant.is_active and variant.product.is_active):
        raise VariantUnavailable(
            "This item is not available.", details={"variant_id": variant_id}
        )
    existing = BackInStockSubscription.objects.filter(
        variant=variant, email=email, sent_at__isnull=True
    ).first()
    if existing:
        return existing
    subscription = BackInStockSubscription(
        variant=variant,
        email=email,
        user=user if user is not None and user.is_authenticated else None,
    )
    subscription.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            subscription.save()
    except IntegrityError:
        return BackInStockSubscription.objects.get(
            variant=variant, email=email, sent_at__isnull=True
        )
    return subscription


@transaction.atomic
def back_in_stock_alerts_send(*, variant_id: int) -> int:
    """Email every waiting subscriber once if the variant can be bought from stock.

    Each subscription is claimed with a conditional update and its email keyed
    on the subscription id, so a repeated receive or task run sends nothing new.
    Return the number of alerts queued.
    """
    availability = variant_availability_map(variant_ids=[variant_id]).get(variant_id)
    if availability is None or not availability.in_stock:
        return 0
    variant = Variant.objects.select_related("product").get(pk=variant_id)
    url = settings.SITE_URL.rstrip("/") + reverse(
        "inventory:product-detail", kwargs={"slug": variant.product.slug}
    )
    sent = 0
    now = timezone.now()
    pending = BackInStockSubscription.objects.filter(
        variant_id=variant_id, sent_at__isnull=True
    ).order_by("pk")
    for subscription in pending:
        claimed = BackInStockSubscription.objects.filter(
            pk=subscription.pk, sent_at__isnull=True
        ).update(sent_at=now)
        if not claimed:
            continue
        notification_enqueue_template(
            kind="inventory.back_in_stock",
            recipient=subscription.email,
            idempotency_key=f"inventory.back_in_stock:{subscription.pk}",
            template_prefix="inventory/email/back_in_stock",
            context={
                "product": variant.product,
                "variant": variant,
                "url": url,
                "available": availability.available,
            },
        )
        sent += 1
    return sent
