"""The one state-machine idiom: a transition table as data and one mutator.

Every machine (orders, checkouts, carts, reservations, and later
subscriptions, dunning cases, licences, flows) declares a ``StateMachine``
beside its model and changes state only through ``move`` (one locked row) or
``move_many`` (a set of rows in one conditional UPDATE). Nothing else assigns
a status field, so the table is the whole truth about what may happen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any, Generic, TypeVar

from django.core.exceptions import FieldDoesNotExist
from django.db import models, transaction
from django.dispatch import Signal
from django.utils import timezone

from apps.core.exceptions import InvalidTransition

M = TypeVar("M", bound=models.Model)

# Sent once a ``move`` commits, with sender=the model and keyword arguments
# row, source, to: what happened, for whoever counts it (metrics) without
# the owning app calling them. Never sent for rolled-back moves, nor for
# ``move_many`` sweeps (their rows are not loaded).
state_moved = Signal()

# Called inside the transaction after the row is saved: (row, from, to).
EventWriter = Callable[[Any, str, str], None]
# Called once the transaction commits: (row, from, to).
SideEffect = Callable[[Any, str, str], None]


@dataclass(frozen=True)
class StateMachine(Generic[M]):
    """A transition table for one model's status field.

    ``stamps`` names a datetime field to set when a state is entered
    (``{"paid": "paid_at"}``); ``bump`` names integer fields incremented on
    every move (a cart's optimistic-lock ``version``).
    """

    model: type[M]
    field: str
    transitions: Mapping[str, frozenset[str] | set[str]]
    name: str = ""
    stamps: Mapping[str, str] = dataclass_field(default_factory=dict)
    bump: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return self.name or str(self.model._meta.verbose_name)

    @property
    def a_label(self) -> str:
        """The label with its article, for messages: "An order", "A cart"."""
        article = "An" if self.label[:1].lower() in "aeiou" else "A"
        return f"{article} {self.label}"

    def allowed(self, source: str, to: str) -> bool:
        return to in self.transitions.get(source, ())

    def sources_of(self, to: str) -> list[str]:
        """The states from which ``to`` may be entered, sorted."""
        return sorted(s for s, targets in self.transitions.items() if to in targets)

    def check(self, source: str, to: str) -> None:
        """Raise InvalidTransition unless ``source -> to`` is in the table."""
        if source != to and not self.allowed(source, to):
            raise InvalidTransition(
                f"{self.a_label} cannot go from {source} to {to}.",
                details={"from": source, "to": to},
            )

    def move(
        self,
        row: M,
        to: str,
        *,
        also_update: Iterable[str] = (),
        event: EventWriter | None = None,
        on_commit: Iterable[SideEffect] = (),
    ) -> bool:
        """Move a row the caller has locked to ``to``; return whether it moved.

        A move to the current state is a no-op (Stripe redelivers webhooks,
        shoppers double-click). The row is saved with ``update_fields``:
        the status, the entered state's stamp, bumped counters, ``updated_at``
        when the model has it, and ``also_update``. ``event`` writes the
        history/audit row in the same transaction; ``on_commit`` callbacks run
        only once it commits.

        Raise InvalidTransition for a move the table does not allow.
        """
        source = getattr(row, self.field)
        if source == to:
            return False
        self.check(source, to)
        setattr(row, self.field, to)
        fields = [self.field, *also_update]
        stamp = self.stamps.get(to)
        if stamp:
            setattr(row, stamp, timezone.now())
            fields.append(stamp)
        for counter in self.bump:
            setattr(row, counter, getattr(row, counter) + 1)
            fields.append(counter)
        if _has_field(row, "updated_at"):
            fields.append("updated_at")
        row.save(update_fields=list(dict.fromkeys(fields)))
        if event is not None:
            event(row, source, to)
        for effect in on_commit:
            transaction.on_commit(
                lambda effect=effect: effect(row, source, to)  # type: ignore[misc]
            )
        if state_moved.has_listeners(self.model):
            transaction.on_commit(
                lambda: state_moved.send_robust(
                    sender=self.model, row=row, source=source, to=to
                )
            )
        return True

    def move_by_pk(self, pk: Any, to: str, **kwargs: Any) -> M:
        """Lock the row by primary key, then ``move`` it."""
        with transaction.atomic():
            row = self.model._default_manager.select_for_update().get(pk=pk)
            self.move(row, to, **kwargs)
        return row

    def move_many(
        self,
        rows: models.QuerySet[M],
        to: str,
        *,
        loaded: Iterable[M] = (),
        **extra: Any,
    ) -> int:
        """Move every row of ``rows`` that may enter ``to``, in one UPDATE.

        For bulk, idempotent sweeps: rows already at ``to`` or in a state the
        table does not let enter it are left alone, and the count says how
        many moved. Callers that need all rows to move lock them first and
        compare the count. ``loaded`` are instances of those rows the caller
        locked and keeps using: the ones the UPDATE moved get the written
        values in memory too, so nobody reads them back or assigns the
        status field. Raise InvalidTransition for an unknown state.
        """
        known = set(self.transitions) | {
            t for targets in self.transitions.values() for t in targets
        }
        if to not in known:
            raise InvalidTransition(
                f"{self.a_label} has no state {to!r}.", details={"to": to}
            )
        values: dict[str, Any] = {self.field: to, **extra}
        if _has_field(self.model, "updated_at"):
            values.setdefault("updated_at", timezone.now())
        stamp = self.stamps.get(to)
        if stamp:
            values.setdefault(stamp, timezone.now())
        loaded = list(loaded)
        if loaded and any(hasattr(v, "resolve_expression") for v in extra.values()):
            # Only the database knows what an expression wrote.
            raise ValueError(f"{self.label}: cannot mirror an expression on rows")
        for counter in self.bump:
            values[counter] = models.F(counter) + 1
        sources = self.sources_of(to)
        moved = rows.filter(**{f"{self.field}__in": sources}).update(**values)
        if moved:
            _mirror(loaded, self.field, sources, values, self.bump)
        return moved

    def move_many_through(
        self, rows: models.QuerySet[M], via: str, to: str, **extra: Any
    ) -> int:
        """``move_many(rows, via)`` then ``move_many(rows, to)``, in one UPDATE.

        For a path nobody observes halfway (a paid checkout goes through
        processing to completed in one transaction): a row that may enter
        ``via`` (or waits there) or may enter ``to`` directly ends at ``to``,
        exactly as the two moves would leave it, for one statement instead
        of two. Raise InvalidTransition when the table has no ``via -> to``;
        ValueError for a machine whose counters or ``via`` stamp the two
        moves would write differently (use the two moves there).
        """
        if not self.allowed(via, to):
            raise InvalidTransition(
                f"{self.a_label} cannot go from {via} to {to}.",
                details={"from": via, "to": to},
            )
        if self.bump or via in self.stamps:
            raise ValueError(f"{self.label}: bumps or a {via} stamp; move twice")
        sources = {*self.sources_of(via), *self.sources_of(to)}
        values: dict[str, Any] = {self.field: to, **extra}
        if _has_field(self.model, "updated_at"):
            values.setdefault("updated_at", timezone.now())
        stamp = self.stamps.get(to)
        if stamp:
            values.setdefault(stamp, timezone.now())
        return rows.filter(**{f"{self.field}__in": sorted(sources)}).update(**values)


def _mirror(
    rows: Iterable[Any],
    field: str,
    sources: list[str],
    values: Mapping[str, Any],
    bump: tuple[str, ...],
) -> None:
    """Apply an UPDATE's values to the loaded rows it matched."""
    for row in rows:
        if getattr(row, field) not in sources:
            continue
        for name, value in values.items():
            if name in bump:
                setattr(row, name, getattr(row, name) + 1)
            else:
                setattr(row, name, value)


def _has_field(model_or_row: Any, name: str) -> bool:
    try:
        model_or_row._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return True
