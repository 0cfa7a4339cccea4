"""Gift cards: issue, send on the chosen date, check, redeem into a wallet, void."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.audit import audit_log
from apps.core.models import AuditLog
from apps.core.money import Money, money_api
from apps.core.notifications import notification_enqueue_template
from apps.core.outbox import outbox_publish
from apps.wallets.exceptions import (
    GiftCardExpired,
    GiftCardInvalid,
    WalletAmountInvalid,
)
from apps.wallets.models import GIFT_CARD_STATES, GiftCard, LedgerEntry
from apps.wallets.services.ledger import wallet_credit

if TYPE_CHECKING:
    from apps.accounts.models import User

# No 0/O, 1/I/L, 5/S or 8/B: codes are read aloud and typed from paper.
ALPHABET = "ACDEFGHJKMNPQRTUVWXYZ2345679"
CODE_LENGTH = 16  # 28**16 ≈ 2**77: unguessable even without the rate limit.
INVALID_MESSAGE = "This gift card code has no balance or does not exist."


def gift_card_code_new() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def gift_card_code_normalise(code: str) -> str:
    """Upper case without spaces or dashes; "" when it cannot be a code."""
    cleaned = "".join(ch for ch in (code or "").upper() if ch not in " -\t")
    if len(cleaned) != CODE_LENGTH or any(ch not in ALPHABET for ch in cleaned):
        return ""
    return cleaned


def gift_card_code_display(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def _hash(code: str) -> str:
    return hashlib.sha256(f"gift-card:{code}".encode()).hexdigest()


def _fernet() -> Fernet:
    digest = hashlib.sha256(f"gift-card-code:{settings.SECRET_KEY}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


@dataclass(frozen=True, slots=True)
class IssuedGiftCard:
    card: GiftCard
    code: str | None  # None when the issue was a retry: the code shows once


def gift_card_issue(
    *,
    amount_minor: int,
    currency: str,
    issue_key: str,
    recipient_email: str = "",
    sender_name: str = "",
    message: str = "",
    send_at: datetime | None = None,
    purchaser: User | None = None,
    actor: User | None = None,
) -> IssuedGiftCard:
    """Issue a card (paid order line, or customer service); safe to retry.

    With a recipient the code is emailed on ``send_at`` (now when unset) by
    the beat job. Raise WalletAmountInvalid for a non-positive amount.
    """
    if amount_minor <= 0:
        raise WalletAmountInvalid("A gift card needs an amount above zero.")
    existing = GiftCard.objects.filter(issue_key=issue_key).first()
    if existing is not None:
        return IssuedGiftCard(card=existing, code=None)
    code = gift_card_code_new()
    expiry_days = settings.GIFT_CARD_EXPIRY_DAYS
    try:
        with transaction.atomic():
            card = GiftCard.objects.create(
                code_hash=_hash(code),
                code_last4=code[-4:],
                code_encrypted=_fernet().encrypt(code.encode()).decode(),
                issue_key=issue_key,
                currency=currency.upper(),
                initial_minor=amount_minor,
                balance_minor=amount_minor,
                expires_at=(
                    timezone.now() + timedelta(days=expiry_days)
                    if expiry_days
                    else None
                ),
                recipient_email=recipient_email,
                sender_name=sender_name,
                message=message,
                send_at=send_at,
                purchaser=purchaser,
            )
            outbox_publish(
                topic="gift_card.issued",
                aggregate_type="gift_card",
                aggregate_id=card.pk,
                payload={
                    "gift_card": card.pk,
                    "amount": money_api(amount_minor, card.currency),
                },
            )
            if actor is not None:
                audit_log(action="gift_card.issued", actor=actor, obj=card)
    except IntegrityError:
        return IssuedGiftCard(card=GiftCard.objects.get(issue_key=issue_key), code=None)
    if recipient_email and (send_at is None or send_at <= timezone.now()):
        transaction.on_commit(lambda: gift_cards_send_due())
    return IssuedGiftCard(card=card, code=code)


def _send(card: GiftCard, *, resend: int = 0) -> None:
    code = _fernet().decrypt(card.code_encrypted.encode()).decode()
    context = {
        "card": card,
        "code": gift_card_code_display(code),
        "amount": Money(card.balance_minor, card.currency),
        "site_url": settings.SITE_URL,
    }
    suffix = f":resend:{resend}" if resend else ""
    notification_enqueue_template(
        kind="gift_card",
        recipient=card.recipient_email,
        idempotency_key=f"gift-card:{card.pk}:code{suffix}",
        template_prefix="wallets/email/gift_card",
        context=context,
    )
    if card.purchaser_id and not resend:
        notification_enqueue_template(
            kind="gift_card_sent",
            recipient=card.purchaser.email,  # type: ignore[union-attr]
            idempotency_key=f"gift-card:{card.pk}:buyer",
            template_prefix="wallets/email/gift_card_sent",
            context={**context, "code": None},
        )


def gift_cards_send_due(*, now: datetime | None = None) -> int:
    """Email the code of every card whose send date has come; safe to rerun.

    Rows are claimed with SKIP LOCKED, so two beat runs never send one card
    twice, and the notification's key makes a retried send a no-op.
    """
    now = now or timezone.now()
    sent = 0
    with transaction.atomic():
        due = list(
            GiftCard.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("purchaser")
            .filter(
                sent_at__isnull=True,
                status=GiftCard.Status.ACTIVE,
                code_encrypted__gt="",
            )
            .exclude(recipient_email="")
            .exclude(send_at__gt=now)
            .order_by("pk")[:200]
        )
        for card in due:
            _send(card)
            card.sent_at = now
            card.save(update_fields=["sent_at", "updated_at"])
            sent += 1
    return sent


def gift_card_resend(*, card_id: int, actor: User) -> GiftCard:
    """Send the code again (customer service). Raise GiftCardInvalid when the
    card can no longer be used (its code was wiped)."""
    with transaction.atomic():
        card = GiftCard.objects.select_for_update().get(pk=card_id)
        if not card.code_encrypted or not card.recipient_email:
            raise GiftCardInvalid("This card has no code left to send.")
        _send(card, resend=_resend_count(card) + 1)
        audit_log(action="gift_card.resent", actor=actor, obj=card)
        if card.sent_at is None:
            card.sent_at = timezone.now()
            card.save(update_fields=["sent_at", "updated_at"])
    return card


def _resend_count(card: GiftCard) -> int:
    return AuditLog.objects.filter(
        action="gift_card.resent",
        object_type=card._meta.label_lower,
        object_id=str(card.pk),
    ).count()


def _usable(code: str, *, lock: bool) -> GiftCard:
    normalised = gift_card_code_normalise(code)
    queryset = GiftCard.objects.select_for_update() if lock else GiftCard.objects
    card = queryset.filter(code_hash=_hash(normalised)).first() if normalised else None
    if card is None or card.status != GiftCard.Status.ACTIVE or card.balance_minor <= 0:
        raise GiftCardInvalid(INVALID_MESSAGE)
    if card.expires_at is not None and card.expires_at <= timezone.now():
        raise GiftCardExpired("This gift card has expired.")
    return card


def gift_card_balance(*, code: str) -> GiftCard:
    """Return the card for a balance check. Raise GiftCardInvalid (the same
    for unknown and used-up codes) or GiftCardExpired."""
    return _usable(code, lock=False)


def gift_card_redeem(*, code: str, user: User) -> LedgerEntry:
    """Move the card's whole balance into the user's wallet in its currency.

    A repeated redeem by the same customer returns the first entry (a double
    submit, a replayed request). Raise GiftCardInvalid for unknown, used-up,
    void or someone else's codes, GiftCardExpired past its expiry.
    """
    normalised = gift_card_code_normalise(code)
    with transaction.atomic():
        card = (
            GiftCard.objects.select_for_update()
            .filter(code_hash=_hash(normalised))
            .first()
            if normalised
            else None
        )
        if card is not None and card.redeemed_by_id == user.pk:
            entry = LedgerEntry.objects.filter(
                idempotency_key=f"gift-card:{card.pk}", wallet__user=user
            ).first()
            if entry is not None:
                return entry
        card = _usable(code, lock=True)
        entry = wallet_credit(
            user=user,
            currency=card.currency,
            amount_minor=card.balance_minor,
            kind=LedgerEntry.Kind.GIFT_CARD_REDEEM,
            idempotency_key=f"gift-card:{card.pk}",
            reference=f"gift-card:{card.pk}",
            memo=f"Gift card …{card.code_last4}",
        )
        redeemed = card.balance_minor
        card.balance_minor = 0
        card.redeemed_by = user
        card.redeemed_at = timezone.now()
        card.code_encrypted = ""
        card.save(
            update_fields=[
                "balance_minor",
                "redeemed_by",
                "redeemed_at",
                "code_encrypted",
                "updated_at",
            ]
        )
        outbox_publish(
            topic="gift_card.redeemed",
            aggregate_type="gift_card",
            aggregate_id=card.pk,
            payload={
                "gift_card": card.pk,
                "user": user.pk,
                "amount": money_api(redeemed, card.currency),
            },
        )
    return entry


def gift_card_void(*, card_id: int, actor: User | None, reason: str) -> GiftCard:
    """Void a card: its remaining balance leaves, recorded in the audit log.
    Voiding twice is a no-op."""
    with transaction.atomic():
        card = GiftCard.objects.select_for_update().get(pk=card_id)
        if card.status == GiftCard.Status.VOID:
            return card
        removed = card.balance_minor
        card.balance_minor = 0
        card.code_encrypted = ""
        GIFT_CARD_STATES.move(
            card, GiftCard.Status.VOID, also_update=["balance_minor", "code_encrypted"]
        )
        audit_log(
            action="gift_card.voided",
            actor=actor,
            obj=card,
            data={
                "removed_minor": removed,
                "currency": card.currency,
                "reason": reason,
            },
        )
    return card


def gift_cards_void_unused(
    *, issue_keys: list[str], voided_total: int, actor: User | None, reason: str
) -> bool:
    """Void unused cards among ``issue_keys`` until ``voided_total`` are void.

    For a refund of the order that bought them: the money goes back only
    with the card. Cards voided before count (a refund retried after its
    card refund failed voids nothing twice). Return False, voiding nothing,
    when too few unused cards remain: redeemed or spent ones cannot be
    taken back.
    """
    with transaction.atomic():
        cards = list(
            GiftCard.objects.select_for_update()
            .filter(issue_key__in=issue_keys)
            .order_by("pk")
        )
        missing = voided_total - sum(c.status == GiftCard.Status.VOID for c in cards)
        unused = [
            c
            for c in cards
            if c.status == GiftCard.Status.ACTIVE
            and c.redeemed_at is None
            and c.balance_minor == c.initial_minor
        ]
        if missing > len(unused):
            return False
        for card in unused[: max(0, missing)]:
            gift_card_void(card_id=card.pk, actor=actor, reason=reason)
    return True
