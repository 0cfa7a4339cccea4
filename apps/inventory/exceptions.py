"""Inventory error types; codes are part of the API contract."""

from apps.core.exceptions import ApplicationError, Conflict, NotFound, ValidationFailed


class OutOfStock(Conflict):
    """Not enough units for one or more lines.

    ``details = {"lines": [{"sku", "requested", "available"}]}``.
    """

    default_code = "out_of_stock"


class ReservationExpired(OutOfStock):
    """The hold expired and its units were taken meanwhile; re-reserve."""

    default_code = "reservation_expired"


class ReservationNotFound(NotFound):
    default_code = "reservation_not_found"


class ReservationReleased(Conflict):
    """Commit was asked for a reference whose hold was already released."""

    default_code = "reservation_released"


class VariantUnavailable(ApplicationError):
    """The variant or its product is inactive, or does not exist."""

    status_code = 400
    default_code = "variant_unavailable"


class QuantityLimitExceeded(ApplicationError):
    status_code = 400
    default_code = "max_per_order_exceeded"


class InvalidQuantity(ApplicationError):
    status_code = 400
    default_code = "invalid_quantity"
    codes = ("invalid_quantity", "invalid_reason")


class NegativeStock(Conflict):
    """An adjustment would take on-hand stock below zero."""

    default_code = "negative_stock"


class ProductNotFound(NotFound):
    default_code = "product_not_found"


class VariantGenerationRefused(ValidationFailed):
    """The variant generator has nothing to combine (admin only)."""

    codes = ("product_type_missing", "product_type_has_no_options")
