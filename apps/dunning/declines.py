"""Which declines are worth retrying off-session (issue 15).

Stripe's decline codes: https://docs.stripe.com/declines/codes. A card that
is stolen, lost, expired or closed will not start working by itself, so
charging it again only costs fees and bank goodwill; the customer is asked
for another card instead.
"""

from __future__ import annotations

from enum import StrEnum


class DeclineClass(StrEnum):
    SOFT = "soft"
    HARD = "hard"
    AUTHENTICATION = "authentication"


HARD_DECLINE_CODES = frozenset(
    {
        "stolen_card",
        "lost_card",
        "expired_card",
        "pickup_card",
        "restricted_card",
        "invalid_account",
        "incorrect_number",
        "invalid_number",
        "card_not_supported",
        "new_account_information_available",
    }
)
AUTHENTICATION_CODES = frozenset({"authentication_required"})
DO_NOT_HONOR = "do_not_honor"


def decline_class(
    code: str, *, do_not_honor_seen: int, do_not_honor_limit: int
) -> DeclineClass:
    """Classify a decline; ``do_not_honor_seen`` counts this one too."""
    if code in AUTHENTICATION_CODES:
        return DeclineClass.AUTHENTICATION
    if code in HARD_DECLINE_CODES:
        return DeclineClass.HARD
    if code == DO_NOT_HONOR and do_not_honor_seen >= do_not_honor_limit:
        return DeclineClass.HARD
    return DeclineClass.SOFT
