"""Gift cards at checkout: bought (who gets the code, and when) and issued on
payment; a code entered at checkout is redeemed into the wallet and spent."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from apps.checkout.exceptions import RefundNotPossible
from apps.checkout.models import Checkout, Order, OrderLine
from apps.checkout.services.checkout import _lock_editable
from apps.checkout.services.store_credit import checkout_set_credit
from apps.core.exceptions import ValidationFailed
from apps.wallets import services as wallet_services
from apps.wallets.exceptions import WalletAmountInvalid

if TYPE_CHECKING:
    from apps.accounts.models import User
    from apps.wallets.models import LedgerEntry

MESSAGE_MAX = 500


def checkout_set_gift_delivery(
    *,
    checkout: Checkout,
    recipient_email: str = "",
    message: str = "",
    send_on: datetime.date | None = None,
) -> Checkout:
    """Choose who gets the codes of the gift cards in the cart, and on which day.

    Empty recipient: the buyer's email. No day: as soon as the order is paid.
    Raise ValidationFailed for a day in the past or an over-long message.
    """
    errors = {}
    if send_on is not None and send_on < timezone.localdate():
        errors["gift_send_on"] = ["Choose today or a later day."]
    if len(message) > MESSAGE_MAX:
        errors["gift_message"] = [f"At most {MESSAGE_MAX} characters."]
    if errors:
        raise ValidationFailed(
            "The gift card details are not valid.", details={"fields": errors}
        )
    with transaction.atomic():
        checkout = _lock_editable(checkout.pk)
        checkout.gift_recipient_email = recipient_email.strip().lower()
        checkout.gift_message = message.strip()
        checkout.gift_send_on = send_on
        checkout.full_clean(exclude=["cart", "user", "shipping_method"])
        checkout.save(
            update_fields=[
                "gift_recipient_email",
                "gift_message",
                "gift_send_on",
                "updated_at",
            ]
        )
    return checkout


def _send_at(send_on: datetime.date | None) -> datetime.datetime | None:
    if send_on is None:
        return None
    return timezone.make_aware(datetime.datetime.combine(send_on, datetime.time.min))


def order_gift_cards_issue(*, order: Order, lines: list[OrderLine]) -> int:
    """Issue one gift card per unit of each gift-card line of a paid order.

    Call inside the transaction that marks the order paid, with the lines'
    variants joined. Safe to repeat: each unit has its own issue key. Return
    how many units are gift cards.
    """
    gift_lines = [
        line for line in lines if line.variant is not None and line.variant.is_gift_card
    ]
    if not gift_lines:
        return 0
    found = (
        Checkout.objects.filter(pk=order.checkout_id)
        .values("gift_recipient_email", "gift_message", "gift_send_on")
        .first()
        if order.checkout_id
        else None
    )
    delivery: dict[str, Any] = dict(found) if found else {}
    issued = 0
    for line in gift_lines:
        # The card is worth its face value, what the buyer chose to give.
        amount = line.unit_price_minor
        for unit in range(line.quantity):
            wallet_services.gift_card_issue(
                amount_minor=amount,
                currency=order.currency,
                issue_key=f"order-line:{line.pk}:{unit}",
                recipient_email=delivery.get("gift_recipient_email") or order.email,
                message=delivery.get("gift_message") or "",
                send_at=_send_at(delivery.get("gift_send_on")),
                purchaser=order.user,
            )
            issued += 1
    return issued


def order_gift_cards_void_for_refund(
    *, lines: dict[int, OrderLine], plan: dict[int, int], actor: Any = None
) -> None:
    """Void the gift cards that the refunded units of gift-card lines bought.

    Call before any money moves: a card already redeemed or spent cannot be
    taken back, so its line cannot be refunded (RefundNotPossible).
    """
    gift_line_ids = set(
        OrderLine.objects.filter(pk__in=plan, variant__is_gift_card=True).values_list(
            "pk", flat=True
        )
    )
    for pk in sorted(gift_line_ids):
        line = lines[pk]
        keys = [f"order-line:{line.pk}:{unit}" for unit in range(line.quantity)]
        voided = wallet_services.gift_cards_void_unused(
            issue_keys=keys,
            voided_total=line.refunded_quantity + plan[pk],
            actor=actor if getattr(actor, "is_authenticated", False) else None,
            reason="order refunded",
        )
        if not voided:
            raise RefundNotPossible(
                "A gift card bought with this order has already been redeemed "
                "or spent, so its line cannot be refunded."
            )


def checkout_gift_card_apply(
    *, checkout: Checkout, code: str, user: User | None
) -> LedgerEntry:
    """Redeem a gift card into the shopper's wallet and spend the wallet's
    credit on this checkout (all of it, up to the total).

    Raise WalletAmountInvalid for a guest checkout (sign in first), and the
    redeem errors (GiftCardInvalid, GiftCardExpired) as they are.
    """
    if user is None or not user.is_authenticated or checkout.user_id != user.pk:
        raise WalletAmountInvalid(
            "Sign in to use a gift card at checkout: its value goes to your "
            "store credit."
        )
    with transaction.atomic():
        # The checkout first, as payment start does, then the card and wallet;
        # a checkout that can no longer change redeems nothing.
        _lock_editable(checkout.pk)
        entry = wallet_services.gift_card_redeem(code=code, user=user)
        checkout_set_credit(checkout=checkout, amount_minor=None)
    return entry
