"""Cart errors; codes are part of the API contract.

Quantity and availability refusals reuse inventory's types
(``invalid_quantity``, ``max_per_order_exceeded``, ``variant_unavailable``).
"""

from apps.core.exceptions import ApplicationError, Conflict, NotFound


class CartNotFound(NotFound):
    default_code = "cart_not_found"


class CartLineNotFound(NotFound):
    default_code = "cart_line_not_found"


class CartVersionConflict(Conflict):
    """The client wrote with a stale version; the API adds the current cart."""

    default_code = "cart_version_conflict"


class CartNotOpen(Conflict):
    default_code = "cart_not_open"


class CartLocked(Conflict):
    """A payment was started for this cart: what is charged must not change."""

    default_code = "cart_locked"


class InsufficientStock(ApplicationError):
    """More units asked for than can be sold now (and no backorder)."""

    status_code = 400
    default_code = "quantity_exceeds_availability"


class CartCurrencyMismatch(ApplicationError):
    status_code = 400
    default_code = "currency_mismatch"


class CartLineLimitReached(ApplicationError):
    status_code = 400
    default_code = "cart_line_limit_reached"
