"""Stock holds: reserve, commit, release and expire reservations.

Locking: see the package docstring; holds are re-read after the stock lock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Case, F, IntegerField, Q, QuerySet, Sum, Value, When
from django.utils import timezone

from apps.core.exceptions import InvalidTransition
from apps.inventory import page_cache
from apps.inventory.exceptions import (
    InvalidQuantity,
    OutOfStock,
    QuantityLimitExceeded,
    ReservationExpired,
    ReservationNotFound,
    ReservationReleased,
    VariantUnavailable,
)
from apps.inventory.models import (
    DEFAULT_LOCATION,
    RESERVATION_STATES,
    Reservation,
    StockItem,
    StockMovement,
    Variant,
)
from apps.inventory.services.stock import _lock_stock_items


def reservation_states_to(to: str) -> frozenset[str]:
    """The states RESERVATION_TRANSITIONS lets a reservation leave for ``to``."""
    return frozenset(RESERVATION_STATES.sources_of(to))


# Holds that can still be committed (active, or lapsed but not yet closed).
_OPEN = sorted(reservation_states_to(Reservation.Status.COMMITTED))
_RELEASABLE = sorted(reservation_states_to(Reservation.Status.RELEASED))


@dataclass(frozen=True, slots=True)
class ReservationRequest:
    variant_id: int
    quantity: int


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


def reservations_transition(
    *,
    reservations: QuerySet[Reservation],
    to: str,
    now: datetime | None = None,
    loaded: Iterable[Reservation] = (),
) -> int:
    """Move the given reservations to ``to`` as RESERVATION_TRANSITIONS allows,
    in one conditional UPDATE; return how many moved.

    ``loaded``: instances of these rows the caller locked and keeps using;
    the moved ones carry their new status and ``updated_at`` in memory too.

    This is the one place a reservation's status changes. It works on sets of
    rows because the services are bulk and idempotent: a row already at ``to``
    is a no-op, and so is a row whose state the table does not let move to
    ``to`` (a committed hold stays committed when released again). Callers that
    need every row to move lock them first and compare the count.

    Raise InvalidTransition for a status that is not a Reservation.Status.
    """
    moved = RESERVATION_STATES.move_many(
        reservations, to, loaded=loaded, updated_at=now or timezone.now()
    )
    if moved:
        page_cache.catalogue_changed()  # held units shown on pages changed
    return moved


def stock_reserve(
    *,
    items: Sequence[ReservationRequest],
    ref: str,
    ttl: timedelta,
    savepoint: bool = True,
    variants: Mapping[int, Variant] | None = None,
) -> list[Reservation]:
    """Hold units for ``ref`` until now + ttl, all lines or none.

    Re-reserving for the same ref replaces its previous open hold. Variants
    that allow backorder are held beyond stock; the excess is recorded as
    ``backordered_quantity``.

    Raise OutOfStock (with every short line) when any line cannot be held,
    VariantUnavailable for unknown or inactive variants, QuantityLimitExceeded
    above a variant's max_per_order, InvalidQuantity for quantities below 1.

    Pass ``savepoint=False`` from inside a transaction that lets these errors
    propagate (rolling back as a whole): a savepoint of its own buys nothing
    there and costs two statements. A caller that catches them and goes on
    keeps the default.

    ``variants`` are the requested variants (product loaded) when the caller
    read them in this transaction already (checkout's pricing): not read again.
    """
    with transaction.atomic(savepoint=savepoint):
        return _reserve(items=items, ref=ref, ttl=ttl, variants=variants)


def _reserve(
    *,
    items: Sequence[ReservationRequest],
    ref: str,
    ttl: timedelta,
    variants: Mapping[int, Variant] | None = None,
) -> list[Reservation]:
    wanted = _merge_lines(items)
    if variants is None or not set(wanted) <= set(variants):
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
    # Lock the holds only after the stock: they may have changed while waiting.
    previous = list(
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
    if previous:
        # The locked holds this one replaces (none on a first reserve: no
        # UPDATE then).
        reservations_transition(
            reservations=Reservation.objects.filter(pk__in=[r.pk for r in previous]),
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
    # Lock first the stock rows of the tracked variants the open hold takes
    # from (the order every stock writer locks in), then read the hold
    # itself, locked: read after the stock lock, it is what a concurrent
    # commit or release left, so one read does.
    stock = {
        item.variant_id: item
        for item in StockItem.objects.select_for_update()
        .filter(
            location=DEFAULT_LOCATION,
            variant_id__in=Reservation.objects.filter(
                ref=ref, status__in=_OPEN, variant__track_stock=True
            ).values("variant_id"),
        )
        .order_by("pk")
    }
    every = list(
        Reservation.objects.select_for_update(of=("self",))
        .filter(ref=ref)
        .select_related("variant")
        .order_by("pk")
    )
    if not every:
        raise ReservationNotFound("No reservation for this reference.")
    reservations = [r for r in every if r.status in _OPEN]
    if not reservations:
        committed = [r for r in every if r.status == Reservation.Status.COMMITTED]
        if committed:
            return committed
        raise ReservationReleased("This reservation was released.")

    variants = {r.variant_id: r.variant for r in reservations}
    unlocked = [
        vid
        for vid, variant in variants.items()
        if variant.track_stock and vid not in stock
    ]
    if unlocked:
        # No stock row yet, or a hold taken again while this waited: create
        # and lock what is missing.
        stock.update(_lock_stock_items(unlocked))

    now = timezone.now()
    needed: dict[int, int] = defaultdict(int)
    for r in reservations:
        if variants[r.variant_id].track_stock:
            needed[r.variant_id] += r.stock_quantity

    short: list[dict] = []
    expired_short = False
    held_by_others: dict[int, int] | None = None
    for r in reservations:
        variant = variants[r.variant_id]
        if not variant.track_stock:
            continue
        on_hand = stock[r.variant_id].on_hand
        is_expired = r.status == Reservation.Status.EXPIRED or r.expires_at <= now
        room = on_hand
        if is_expired:
            # An expired hold no longer protects its units: others' holds
            # come first. Read only then (none for a commit in time).
            if held_by_others is None:
                held_by_others = _held_from_stock(stock, exclude_ref=ref)
            room -= held_by_others.get(r.variant_id, 0)
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
        # Locked and just moved: the helper mirrors the UPDATE on them rather
        # than read them back (one query less on every completed checkout).
        loaded=reservations,
    )
    if moved != len(reservations):  # they are locked: only a bug gets here
        raise InvalidTransition(
            "Some of these reservations cannot be committed.",
            details={"ref": ref},
        )
    return reservations


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
