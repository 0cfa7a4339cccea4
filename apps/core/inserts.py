"""INSERT a row unless a unique key is taken, in one statement.

``INSERT ... ON CONFLICT (...) DO NOTHING RETURNING pk`` (PostgreSQL, and
SQLite since 3.35) never raises on the clash, so the caller needs no
savepoint around it (inside a transaction a failed INSERT would otherwise
poison it) and still learns whether it wrote the row. Django's
``bulk_create(ignore_conflicts=True)`` cannot say that: it returns no pk.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, models


def insert_unless_taken(row: models.Model, *, unique: Sequence[str]) -> bool:
    """Write ``row`` (every concrete field but an auto pk) unless a row with
    the same ``unique`` fields exists; return whether it was written, with
    ``row.pk`` set. auto_now/auto_now_add fields are filled as save() does."""
    meta = row._meta
    pk = meta.pk
    if pk is None:
        raise ValueError(f"{meta.label} has no primary key")
    fields = [
        f
        for f in meta.concrete_fields
        if not (f.primary_key and isinstance(f, models.AutoField))
    ]
    # pre_save fills auto_now(_add) stamps on the instance, as save() would.
    params = [f.get_db_prep_save(f.pre_save(row, add=True), connection) for f in fields]
    qn = connection.ops.quote_name
    columns = ", ".join(qn(_column(f)) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    conflict = ", ".join(qn(_column(meta.get_field(name))) for name in unique)
    # Only quoted identifiers from the model's meta are formatted in; every
    # value is a parameter.
    sql = (
        f"INSERT INTO {qn(meta.db_table)} ({columns}) VALUES ({placeholders}) "  # noqa: S608
        f"ON CONFLICT ({conflict}) DO NOTHING RETURNING {qn(_column(pk))}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        returned = cursor.fetchone()
    if returned is None:
        return False
    row.pk = pk.to_python(returned[0])
    row._state.adding = False
    row._state.db = connection.alias
    return True


def _column(field: Any) -> str:
    column = getattr(field, "column", None)
    if not column:
        raise ValueError(f"{field!r} has no column")
    return str(column)
