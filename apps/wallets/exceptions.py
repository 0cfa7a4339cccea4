"""Store-credit errors, each with a stable code for API clients and forms."""

from apps.core.exceptions import ApplicationError, Conflict

WALLET_ERROR_CODES = (
    "wallet_amount_invalid",
    "wallet_insufficient_credit",
    "wallet_currency_mismatch",
    "wallet_idempotency_conflict",
    "wallet_hold_not_found",
    "gift_card_invalid",
    "gift_card_expired",
)


class WalletAmountInvalid(ApplicationError):
    status_code = 400
    default_code = "wallet_amount_invalid"


class InsufficientCredit(ApplicationError):
    status_code = 400
    default_code = "wallet_insufficient_credit"


class WalletCurrencyMismatch(ApplicationError):
    status_code = 400
    default_code = "wallet_currency_mismatch"


class WalletIdempotencyConflict(Conflict):
    """The key was used before for a different operation."""

    default_code = "wallet_idempotency_conflict"


class HoldNotFound(Conflict):
    default_code = "wallet_hold_not_found"


class GiftCardInvalid(ApplicationError):
    """Unknown, used up, void or another customer's: one answer for all, so
    codes cannot be probed."""

    status_code = 400
    default_code = "gift_card_invalid"


class GiftCardExpired(ApplicationError):
    status_code = 400
    default_code = "gift_card_expired"
