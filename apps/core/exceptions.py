"""Application errors: each carries a stable snake_case code and an HTTP status.

The API exception handler and page views translate these; services raise them.
"""

from typing import Any


class ApplicationError(Exception):
    status_code = 400
    default_code = "application_error"
    # Every code this class may carry, when it carries more than its default
    # (``raise CouponNotApplicable(..., code="coupon_expired")``). The OpenAPI
    # schema lists these for each operation that declares the class, and a
    # test checks every ``code="..."`` raised in apps/ is among them.
    codes: tuple[str, ...] = ()

    @classmethod
    def api_codes(cls) -> tuple[str, ...]:
        """Return the error codes an instance of this class can answer with."""
        return cls.codes or (cls.default_code,)

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.details = details or {}


class ValidationFailed(ApplicationError):
    status_code = 400
    default_code = "validation_error"


class NotFound(ApplicationError):
    status_code = 404
    default_code = "not_found"


class PermissionDenied(ApplicationError):
    status_code = 403
    default_code = "permission_denied"


class Conflict(ApplicationError):
    status_code = 409
    default_code = "conflict"


class InvalidTransition(Conflict):
    default_code = "invalid_state_transition"


class PaymentRequired(ApplicationError):
    status_code = 402
    default_code = "payment_declined"


class UnprocessableEntity(ApplicationError):
    status_code = 422
    default_code = "unprocessable"


class IdempotencyKeyInvalid(ValidationFailed):
    default_code = "idempotency_key_invalid"


class IdempotencyKeyReused(UnprocessableEntity):
    """The key was used before with a different request."""

    default_code = "idempotency_key_reused"


class IdempotencyRequestInProgress(Conflict):
    default_code = "idempotency_request_in_progress"


class TransientError(Exception):
    """A failure worth retrying later (network, lock timeout, provider outage)."""


class CurrencyMismatch(ApplicationError):
    default_code = "currency_mismatch"

    def __init__(self, left: str, right: str):
        super().__init__(
            f"Cannot combine amounts in {left} and {right}.",
            details={"currencies": [left, right]},
        )
