"""Record usage against the plan's limits, exactly, under concurrency.

Each window's counter moves by one statement,

    INSERT … ON CONFLICT DO UPDATE SET used = used + n
    WHERE used + n <= limit RETURNING used

so there is no read-then-write: PostgreSQL locks the counter row, a waiting
writer re-checks the WHERE against the committed value, and an increment that
would pass the limit returns no row. The day window goes first, then the
month; when the month refuses, the day's increment is taken back in the same
transaction (its row is still locked by it), so both windows accept or
neither does.

Idempotency: the raw ``UsageEvent`` is inserted first with ``ON CONFLICT DO
NOTHING`` on (user, idempotency key). A retry finds its key taken and counts
nothing; a concurrent twin waits on the unique index until the first commits.
A refused event's row is deleted before commit, so a refusal can be retried.

Round trips (issue 14's throughput): on PostgreSQL a single event is one
statement (event insert, day upsert and month upsert chained in a CTE, each
step feeding the next through RETURNING); a batch inserts all its events
with one statement (a JSON array of rows) and moves each (user, metric)
group's two counters with one statement. The conditional upserts are the
same statements; only their grouping into round trips differs. SQLite (the
embedded test database) has no data-modifying CTE and runs them one by one.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from apps.subscriptions.entitlements import entitlements_for
from apps.subscriptions.exceptions import MetricNotInPlan, UsageLimitExceeded
from apps.subscriptions.usage import alerts
from apps.subscriptions.usage import statements as sql
from apps.subscriptions.usage.models import UsageEvent
from apps.subscriptions.usage.windows import (
    LIMIT_KEYS,
    Window,
    current_windows,
    customer_timezone,
)

ACCEPTED = "accepted"
DUPLICATE = "duplicate"
REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class UsageInput:
    user_id: int
    metric: str
    quantity: int
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class WindowUsage:
    window: str
    used: int
    limit: int | None
    resets_at: datetime


@dataclass(frozen=True, slots=True)
class UsageOutcome:
    status: str
    code: str = ""
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    retry_after: int | None = None
    usage: tuple[WindowUsage, ...] = ()


@dataclass(slots=True)
class _Plan:
    """One user's state for a call: limits from the current plan, windows."""

    email: str
    limits: dict[str, dict[str, int | None]]
    windows: tuple[Window, Window]


def _db_time(value: datetime) -> Any:
    # SQLite stores naive UTC text; raw SQL must match what the ORM wrote.
    return connection.ops.adapt_datetimefield_value(value)


def _limit_for(plan: _Plan, metric: str, window: Window) -> int | None:
    return plan.limits.get(metric, {}).get(LIMIT_KEYS[window.kind])


def _refusal(metric: str, limit: int, window: Window, now: datetime) -> UsageOutcome:
    details = {
        "metric": metric,
        "limit": limit,
        "window": window.kind,
        "resets_at": window.end.isoformat(),
    }
    retry_after = window.retry_after(now)
    exc = UsageLimitExceeded(details, retry_after=retry_after)
    return UsageOutcome(
        REFUSED,
        code=exc.code,
        message=exc.message,
        details={**details, "retry_after": retry_after},
        retry_after=retry_after,
    )


def _limits(plan: _Plan, metric: str) -> list[tuple[Window, int | None]]:
    return [(w, _limit_for(plan, metric, w)) for w in plan.windows]


def _values_row(
    user_id: int,
    metric: str,
    limits: list[tuple[Window, int | None]],
    n: int,
    now: datetime,
) -> list[Any]:
    """The parameters of statements.VALUES_ROW (PostgreSQL only)."""
    (day, day_limit), (month, month_limit) = limits
    return [
        user_id,
        metric,
        n,
        now,
        day.kind,
        day.start,
        day_limit,
        month.kind,
        month.start,
        month_limit,
    ]


def _count_one_by_one(
    cursor: Any,
    *,
    user_id: int,
    metric: str,
    limits: list[tuple[Window, int | None]],
    n: int,
    now: datetime,
) -> list[int | None]:
    """The day's upsert, then the month's when the day accepted (SQLite)."""
    used: list[int | None] = []
    for window, limit in limits:
        key = (user_id, metric, window.kind, _db_time(window.start))
        if limit is None:
            cursor.execute(sql.UPSERT_UNLIMITED, [*key, n, _db_time(now)])
        else:
            cursor.execute(sql.UPSERT_LIMITED, [*key, n, _db_time(now), limit])
        row = cursor.fetchone()
        used.append(row[0] if row else None)
        if row is None:
            break
    return used + [None] * (len(limits) - len(used))


def _settle(
    cursor: Any,
    *,
    user_id: int,
    metric: str,
    plan: _Plan,
    limits: list[tuple[Window, int | None]],
    used: list[int | None],
    n: int,
    now: datetime,
) -> UsageOutcome:
    """Turn the windows' new values into an outcome: accepted (and alerts) when
    every window took ``n``, else refused, the windows that took it taken back."""
    done: list[tuple[Window, int | None, int]] = []
    for (window, limit), after in zip(limits, used, strict=True):
        if after is None:
            for earlier, _, _ in done:
                cursor.execute(
                    sql.TAKE_BACK,
                    [n, user_id, metric, earlier.kind, _db_time(earlier.start)],
                )
            return _refusal(metric, limit or 0, window, now)
        done.append((window, limit, after))
    for window, limit, after in done:
        if limit:
            alerts.usage_alert_if_crossed(
                user_id=user_id,
                email=plan.email,
                metric=metric,
                window=window,
                limit=limit,
                before=after - n,
                after=after,
            )
    return UsageOutcome(
        ACCEPTED,
        usage=tuple(WindowUsage(w.kind, u, lim, w.end) for w, lim, u in done),
    )


def _too_big(limits: list[tuple[Window, int | None]], n: int) -> int | None:
    """The first window whose limit alone is below ``n`` (nothing to upsert)."""
    for i, (_, limit) in enumerate(limits):
        if limit is not None and n > limit:
            return i
    return None


def _increment(
    cursor: Any, *, user_id: int, metric: str, plan: _Plan, n: int, now: datetime
) -> UsageOutcome:
    """Add ``n`` to the day and month counters, or to neither."""
    limits = _limits(plan, metric)
    big = _too_big(limits, n)
    if big is not None:
        window, limit = limits[big]
        return _refusal(metric, limit or 0, window, now)
    if connection.vendor == "postgresql":
        cursor.execute(sql.COUNT_BOTH, _values_row(user_id, metric, limits, n, now))
        used = list(cursor.fetchone())
    else:
        used = _count_one_by_one(
            cursor, user_id=user_id, metric=metric, limits=limits, n=n, now=now
        )
    return _settle(
        cursor,
        user_id=user_id,
        metric=metric,
        plan=plan,
        limits=limits,
        used=used,
        n=n,
        now=now,
    )


def _record_one(
    cursor: Any, event: UsageInput, *, plan: _Plan, source: str, now: datetime
) -> UsageOutcome:
    """One event on PostgreSQL: insert and both counters in one statement."""
    limits = _limits(plan, event.metric)
    cursor.execute(
        sql.RECORD_ONE,
        [
            *_values_row(event.user_id, event.metric, limits, event.quantity, now),
            event.idempotency_key,
            source,
        ],
    )
    inserted, *used = cursor.fetchone()
    if not inserted:
        return UsageOutcome(DUPLICATE)
    outcome = _settle(
        cursor,
        user_id=event.user_id,
        metric=event.metric,
        plan=plan,
        limits=limits,
        used=used,
        n=event.quantity,
        now=now,
    )
    if outcome.status == REFUSED:
        _forget([event])
    return outcome


def _insert_events(
    cursor: Any, events: list[UsageInput], *, source: str, now: datetime
) -> set[tuple[int, str]]:
    """Insert the events; return the (user, key) pairs that were new."""
    # Sorted, so two batches sharing keys take the index entries in one order.
    events = sorted(events, key=lambda e: (e.user_id, e.idempotency_key))
    if connection.vendor == "postgresql":
        as_json = json.dumps(
            [
                {"u": e.user_id, "m": e.metric, "q": e.quantity, "k": e.idempotency_key}
                for e in events
            ]
        )
        cursor.execute(sql.INSERT_EVENTS_JSON, [source, _db_time(now), as_json])
        return {(int(r[0]), r[1]) for r in cursor.fetchall()}
    rows = ", ".join([sql.ROW] * len(events))
    params: list[Any] = []
    created = _db_time(now)
    for e in events:
        params += [e.user_id, e.metric, e.quantity, e.idempotency_key, source, created]
    # Only placeholders are formatted in: values travel as parameters.
    cursor.execute(sql.INSERT_EVENTS.format(rows=rows), params)
    return {(int(r[0]), r[1]) for r in cursor.fetchall()}


def _plans_for(
    user_ids: set[int], now: datetime, known: Sequence[Any] = ()
) -> dict[int, _Plan]:
    users = [u for u in known if u.pk in user_ids]
    missing = user_ids - {u.pk for u in users}
    if missing:
        users += list(get_user_model().objects.filter(pk__in=missing))
    plans = {}
    for user in users:
        tz = customer_timezone(user)
        plans[user.pk] = _Plan(
            email=user.email,
            limits=entitlements_for(user).limits,
            windows=current_windows(now, tz),
        )
    return plans


def _precheck(event: UsageInput, plan: _Plan | None, now: datetime) -> UsageOutcome:
    """Refuse what needs no counter: unknown user, metric off the plan, n > limit."""
    if plan is None:
        return UsageOutcome(
            REFUSED,
            code="user_not_found",
            message="No such user.",
            details={"user": event.user_id},
        )
    if event.metric not in plan.limits:
        exc = MetricNotInPlan(event.metric)
        return UsageOutcome(
            REFUSED, code=exc.code, message=exc.message, details=exc.details
        )
    for window in plan.windows:
        limit = _limit_for(plan, event.metric, window)
        if limit is not None and event.quantity > limit:
            return _refusal(event.metric, limit, window, now)
    return UsageOutcome(ACCEPTED)


@transaction.atomic
def usage_record_many(
    *,
    events: Sequence[UsageInput],
    source: str,
    now: datetime | None = None,
    users: Sequence[Any] = (),
) -> list[UsageOutcome]:
    """Record each event once; return one outcome per event, in order.

    An event is ``accepted`` (counted), a ``duplicate`` (its key was recorded
    before: nothing counted) or ``refused`` (unknown user, metric not in the
    plan, or over a limit: nothing counted, nothing stored). Limits are read
    from the user's current plan now, so an upgrade applies at once.
    ``users`` already loaded are not read again.
    """
    now = now or timezone.now()
    outcomes: list[UsageOutcome | None] = [None] * len(events)
    first_of: dict[tuple[int, str], int] = {}
    plans = _plans_for({e.user_id for e in events}, now, users)
    todo: list[int] = []
    for i, event in enumerate(events):
        pair = (event.user_id, event.idempotency_key)
        if pair in first_of:
            continue  # a repeat inside the call answers as its first below
        first_of[pair] = i
        pre = _precheck(event, plans.get(event.user_id), now)
        if pre.status == REFUSED:
            outcomes[i] = pre
        else:
            todo.append(i)
    with connection.cursor() as cursor:
        if len(todo) == 1 and connection.vendor == "postgresql":
            (i,) = todo
            event = events[i]
            outcomes[i] = _record_one(
                cursor, event, plan=plans[event.user_id], source=source, now=now
            )
            return _in_order(events, outcomes, first_of)
        new = (
            _insert_events(cursor, [events[i] for i in todo], source=source, now=now)
            if todo
            else set()
        )
        groups: dict[tuple[int, str], list[int]] = defaultdict(list)
        for i in todo:
            event = events[i]
            if (event.user_id, event.idempotency_key) in new:
                groups[(event.user_id, event.metric)].append(i)
            else:
                outcomes[i] = UsageOutcome(DUPLICATE)
        refused: list[int] = []
        # Sorted: counters are always locked in one order across requests.
        for (user_id, metric), members in sorted(groups.items()):
            plan = plans[user_id]
            total = sum(events[i].quantity for i in members)
            outcome = _increment(
                cursor, user_id=user_id, metric=metric, plan=plan, n=total, now=now
            )
            if outcome.status == ACCEPTED or len(members) == 1:
                for i in members:
                    outcomes[i] = outcome
                if outcome.status == REFUSED:
                    refused += members
                continue
            # The group does not fit whole: one event at a time, in order.
            for i in members:
                outcomes[i] = _increment(
                    cursor,
                    user_id=user_id,
                    metric=metric,
                    plan=plan,
                    n=events[i].quantity,
                    now=now,
                )
                if outcomes[i].status == REFUSED:  # type: ignore[union-attr]  # just set
                    refused.append(i)
    if refused:
        _forget([events[i] for i in refused])
    return _in_order(events, outcomes, first_of)


def _in_order(
    events: Sequence[UsageInput],
    outcomes: list[UsageOutcome | None],
    first_of: dict[tuple[int, str], int],
) -> list[UsageOutcome]:
    """One outcome per event; a repeat inside the call answers as a duplicate."""
    result = []
    for i, event in enumerate(events):
        first = first_of[(event.user_id, event.idempotency_key)]
        outcome = outcomes[first] or UsageOutcome(DUPLICATE)
        if first != i and outcome.status == ACCEPTED:
            outcome = UsageOutcome(DUPLICATE)
        result.append(outcome)
    return result


def _forget(events: list[UsageInput]) -> None:
    by_user: dict[int, list[str]] = defaultdict(list)
    for e in events:
        by_user[e.user_id].append(e.idempotency_key)
    match = Q()
    for user_id, keys in by_user.items():
        match |= Q(user_id=user_id, idempotency_key__in=keys)
    UsageEvent.objects.filter(match).delete()


def usage_record(
    *, user: Any, metric: str, quantity: int, idempotency_key: str, source: str = "api"
) -> UsageOutcome:
    """Record one event for ``user``; return it accepted or a duplicate.

    Raise MetricNotInPlan when the plan does not meter ``metric``, and
    UsageLimitExceeded (with the window's reset) when it would pass a limit.
    """
    (outcome,) = usage_record_many(
        events=[UsageInput(user.pk, metric, quantity, idempotency_key)],
        source=source,
        users=[user],
    )
    if outcome.code == MetricNotInPlan.default_code:
        raise MetricNotInPlan(metric)
    if outcome.code == UsageLimitExceeded.default_code:
        details = {k: v for k, v in outcome.details.items() if k != "retry_after"}
        raise UsageLimitExceeded(details, retry_after=outcome.retry_after or 1)
    return outcome
