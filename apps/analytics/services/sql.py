"""Helpers for set-based writes: INSERT … SELECT from an ORM queryset, day bounds."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection, models


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Return [start, end) of a UTC calendar day."""
    start = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=1)


# The analytics statements are a few large set-based ones per day. PostgreSQL's
# cost estimates for them (OR-ed IN subqueries, correlated subqueries per
# row) run into the millions, past jit_above_cost, and compiling them took
# longer than running them (2.7 of 2.8 s for a day's changed subscriptions at
# 100,000 subscriptions). The grouped statements over two days of snapshots
# spilled to disk with the default 4 MB of work_mem.
JOB_SETTINGS = {"jit": "off", "work_mem": "64MB"}


def job_settings_apply() -> None:
    """Set ``JOB_SETTINGS`` for the rest of the current transaction.

    PostgreSQL only (``SET LOCAL``); a no-op elsewhere. Results do not depend
    on them, only plans and their speed.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for name, value in JOB_SETTINGS.items():
            cursor.execute("SELECT set_config(%s, %s, true)", [name, value])


def insert_select(
    model: type[models.Model], columns: dict[str, str], queryset: models.QuerySet[Any]
) -> int:
    """Insert the rows of ``queryset`` into ``model`` in one statement.

    ``columns`` maps the model's column names to the queryset's annotation
    names; the SELECT lists them in that order, so the database never hands
    rows back to Python. Return the number of rows inserted.
    """
    names = list(columns.values())
    query = queryset.values(*names).order_by().query
    sql, params = query.get_compiler(connection=connection).as_sql()
    # values() may list annotations in its own order: read it back and check.
    selected = [
        alias
        for alias in (
            *query.values_select,
            *query.annotation_select,
        )
    ]
    if selected != names:
        raise AssertionError(f"SELECT lists {selected}, expected {names}")
    table = connection.ops.quote_name(model._meta.db_table)
    cols = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({cols}) {sql}", params)
        return cursor.rowcount
