"""Store credit: a wallet per customer and currency over an append-only ledger."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.core.models import TimeStampedModel
from apps.core.state import StateMachine


class Wallet(TimeStampedModel):
    """Balances kept beside the ledger, written in the same transaction as
    each entry under a row lock, so reads need no sum and can never disagree
    with the entries for longer than a transaction."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="wallets"
    )
    currency = models.CharField(max_length=3)
    balance_minor = models.BigIntegerField(
        default=0, help_text="Credit the customer can spend now (minor units)."
    )
    held_minor = models.BigIntegerField(
        default=0, help_text="Credit set aside for orders awaiting payment."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "currency"], name="wallets_one_per_user_currency"
            ),
            models.CheckConstraint(
                condition=Q(balance_minor__gte=0), name="wallets_balance_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(held_minor__gte=0), name="wallets_held_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.currency} wallet"


class LedgerEntry(models.Model):
    """One change to a wallet. Never updated or deleted: a mistake is
    corrected by a new entry.

    ``amount_minor`` is the change to the spendable balance, ``held_delta_minor``
    the change to held credit: a hold moves credit from one to the other, a
    capture spends held credit, a release gives it back.
    """

    class Kind(models.TextChoices):
        GIFT_CARD_REDEEM = "gift_card_redeem"
        REFUND_CREDIT = "refund_credit"
        GOODWILL = "goodwill"
        ORDER_HOLD = "order_hold"
        ORDER_CAPTURE = "order_capture"
        ORDER_RELEASE = "order_release"
        EXPIRY = "expiry"
        ADJUSTMENT = "adjustment"

    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    amount_minor = models.BigIntegerField()
    held_delta_minor = models.BigIntegerField(default=0)
    reference = models.CharField(max_length=128, blank=True, db_index=True)
    idempotency_key = models.CharField(max_length=255)
    memo = models.CharField(max_length=255, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "ledger entries"
        constraints = [
            models.UniqueConstraint(
                fields=["wallet", "idempotency_key"],
                name="wallets_entry_idempotency_unique",
            ),
            models.CheckConstraint(
                condition=Q(
                    kind__in=[
                        "gift_card_redeem",
                        "refund_credit",
                        "goodwill",
                        "order_hold",
                        "order_capture",
                        "order_release",
                        "expiry",
                        "adjustment",
                    ]
                ),
                name="wallets_entry_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount_minor:+d} ({self.wallet_id})"


class GiftCard(TimeStampedModel):
    """A prepaid code. Only a hash of the code is kept for look-up; the code
    itself is kept encrypted only while the card can still be sent or
    resent, and is wiped once redeemed or voided."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        VOID = "void"

    code_hash = models.CharField(max_length=64, unique=True)
    code_last4 = models.CharField(max_length=4)
    code_encrypted = models.TextField(blank=True)
    issue_key = models.CharField(
        max_length=255, unique=True, help_text="Makes issuing safe to retry."
    )
    currency = models.CharField(max_length=3)
    initial_minor = models.PositiveBigIntegerField()
    balance_minor = models.BigIntegerField()
    status = models.CharField(
        max_length=8, choices=Status.choices, default=Status.ACTIVE
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    recipient_email = models.EmailField(blank=True)
    sender_name = models.CharField(max_length=100, blank=True)
    message = models.TextField(blank=True, max_length=1000)
    send_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    purchaser = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="gift_cards_bought",
    )
    redeemed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="gift_cards_redeemed",
    )
    redeemed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["sent_at", "send_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(balance_minor__gte=0), name="wallets_gift_card_balance_gte0"
            ),
            models.CheckConstraint(
                condition=Q(balance_minor__lte=models.F("initial_minor")),
                name="wallets_gift_card_balance_lte_initial",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["active", "void"]),
                name="wallets_gift_card_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"gift card …{self.code_last4} ({self.currency})"

    @property
    def masked_code(self) -> str:
        return f"XXXX-XXXX-XXXX-{self.code_last4}"


GIFT_CARD_STATES = StateMachine(
    model=GiftCard,
    field="status",
    transitions={GiftCard.Status.ACTIVE: {GiftCard.Status.VOID}},
    name="gift card",
)
