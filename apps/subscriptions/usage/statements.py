"""The raw SQL of usage recording (record.py), one place for every statement.

Written out, with no value formatted in: every value is a parameter. The table
names are the models' db_table. On PostgreSQL a single event is one statement
(event insert, day upsert and month upsert chained through RETURNING), a
batch's events one insert; SQLite runs the plain upserts one by one.
"""

# The conditional upsert every counter moves by: ``used + n <= limit`` or no
# row comes back (the window refused).
UPSERT = (
    "INSERT INTO subscriptions_usagecounter (user_id, metric, window_kind, "
    "window_start, used, updated_at) VALUES (%s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (user_id, metric, window_kind, window_start) DO UPDATE SET "
    "used = subscriptions_usagecounter.used + excluded.used, "
    "updated_at = excluded.updated_at"
)
UPSERT_LIMITED = (
    UPSERT
    + " WHERE subscriptions_usagecounter.used + excluded.used <= %s RETURNING used"
)
UPSERT_UNLIMITED = UPSERT + " RETURNING used"


# The values a PostgreSQL count statement reads, sent once as the row ``v``:
# written into each CTE, the same user, metric, quantity and times went as 22
# parameters, each quoted by the driver (client-side binding) on every event,
# 1.8 % of a single ingest's web instructions (6.43 -> 6.31 M under
# callgrind). Parameters: user, metric, n, now, then kind, start and limit of
# the day window and of the month window.
VALUES_ROW = (
    "v AS (SELECT %s::bigint AS user_id, %s::varchar AS metric, "
    "%s::integer AS n, %s::timestamptz AS t, %s::varchar AS day_kind, "
    "%s::timestamptz AS day_start, %s::bigint AS day_limit, "
    "%s::varchar AS month_kind, %s::timestamptz AS month_start, "
    "%s::bigint AS month_limit)"
)


def _chained_upsert(window: str, after: str | None) -> str:
    """The conditional upsert of the ``window`` (day or month) counter as a CTE
    of that name, reading ``v``; it runs only when the CTE ``after`` returned a
    row. A NULL limit is an unlimited window."""
    source = f"{after}, v" if after else "v"
    # S608: only the fixed CTE and window names below are formatted in.
    return (
        f"{window} AS (INSERT INTO subscriptions_usagecounter AS c (user_id, metric, "  # noqa: S608
        f"window_kind, window_start, used, updated_at) SELECT v.user_id, v.metric, "
        f"v.{window}_kind, v.{window}_start, v.n, v.t FROM {source} "
        "ON CONFLICT (user_id, metric, window_kind, window_start) "
        "DO UPDATE SET used = c.used + excluded.used, updated_at = excluded.updated_at "
        f"WHERE (SELECT {window}_limit FROM v) IS NULL "
        f"OR c.used + excluded.used <= (SELECT {window}_limit FROM v) RETURNING used)"
    )


# PostgreSQL: both windows in one statement; (day, month) come back NULL
# where a window refused, and the month is not tried when the day refused.
# (S608: put together once, at import, from the fixed CTE names above.)
COUNT_BOTH = (
    f"WITH {VALUES_ROW}, {_chained_upsert('day', None)}, "  # noqa: S608
    f"{_chained_upsert('month', 'day')} "
    "SELECT (SELECT used FROM day), (SELECT used FROM month)"
)
# A single event: its insert feeds the day upsert, so a duplicate key moves
# no counter; the first column says whether the event was new. Parameters:
# VALUES_ROW's, then the idempotency key and the source.
RECORD_ONE = (
    f"WITH {VALUES_ROW}, event AS (INSERT INTO subscriptions_usageevent "  # noqa: S608
    "(user_id, metric, quantity, idempotency_key, source, created_at) "
    "SELECT v.user_id, v.metric, v.n, %s, %s, v.t FROM v "
    "ON CONFLICT (user_id, idempotency_key) DO NOTHING RETURNING 1), "
    f"{_chained_upsert('day', 'event')}, "
    f"{_chained_upsert('month', 'day')} "
    "SELECT (SELECT count(*) FROM event), (SELECT used FROM day), "
    "(SELECT used FROM month)"
)
# PostgreSQL: a batch's events travel as one JSON array, so the statement's
# text does not grow with the batch and the driver quotes one string (its
# array quoting, element by element in Python, cost more than the insert).
INSERT_EVENTS_JSON = (
    "INSERT INTO subscriptions_usageevent (user_id, metric, quantity, "
    "idempotency_key, source, created_at) SELECT e.u, e.m, e.q, e.k, %s, %s "
    "FROM ROWS FROM (json_to_recordset(%s::json) AS (u bigint, m varchar, "
    "q integer, k varchar)) WITH ORDINALITY AS e(u, m, q, k, i) ORDER BY e.i "
    "ON CONFLICT (user_id, idempotency_key) DO NOTHING "
    "RETURNING user_id, idempotency_key"
)
# SQLite: the batch's rows written into the statement, ROW once per event.
INSERT_EVENTS = (
    "INSERT INTO subscriptions_usageevent (user_id, metric, quantity, "
    "idempotency_key, source, created_at) VALUES {rows} "
    "ON CONFLICT (user_id, idempotency_key) DO NOTHING "
    "RETURNING user_id, idempotency_key"
)
ROW = "(%s, %s, %s, %s, %s, %s)"
TAKE_BACK = (
    "UPDATE subscriptions_usagecounter SET used = used - %s WHERE user_id = %s "
    "AND metric = %s AND window_kind = %s AND window_start = %s"
)
