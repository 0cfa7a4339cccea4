"""Stock writes: reserve, commit, release, adjust, expire, back-in-stock alerts.

Locking: every write that reads availability first locks the StockItem rows of
the variants involved with ``select_for_update()`` ordered by primary key, so
two multi-line reservations touching the same variants in opposite orders
queue instead of deadlocking; reservations are re-read after the lock. On
SQLite ``select_for_update`` is a no-op, but IMMEDIATE transactions serialize
writers. No lock is held across a network call: callers reserve, then talk to
Stripe outside the transaction, then commit.
"""

from apps.inventory.services.back_in_stock import (
    back_in_stock_alerts_send,
    back_in_stock_subscribe,
)
from apps.inventory.services.reservations import (
    ReservationRequest,
    reservation_states_to,
    reservations_expire,
    reservations_transition,
    stock_commit,
    stock_release,
    stock_reserve,
)
from apps.inventory.services.stock import stock_adjust, stock_set

__all__ = [
    "ReservationRequest",
    "back_in_stock_alerts_send",
    "back_in_stock_subscribe",
    "reservation_states_to",
    "reservations_expire",
    "reservations_transition",
    "stock_adjust",
    "stock_commit",
    "stock_release",
    "stock_reserve",
    "stock_set",
]
