"""Store-credit writes: the ledger (wallets) and gift cards."""

from apps.wallets.services.gift_cards import (
    IssuedGiftCard,
    gift_card_balance,
    gift_card_issue,
    gift_card_redeem,
    gift_card_resend,
    gift_card_void,
    gift_cards_send_due,
    gift_cards_void_unused,
)
from apps.wallets.services.ledger import (
    wallet_capture,
    wallet_credit,
    wallet_debit,
    wallet_for,
    wallet_hold,
    wallet_release,
)

__all__ = [
    "IssuedGiftCard",
    "gift_card_balance",
    "gift_card_issue",
    "gift_card_redeem",
    "gift_card_resend",
    "gift_card_void",
    "gift_cards_send_due",
    "gift_cards_void_unused",
    "wallet_capture",
    "wallet_credit",
    "wallet_debit",
    "wallet_for",
    "wallet_hold",
    "wallet_release",
]
