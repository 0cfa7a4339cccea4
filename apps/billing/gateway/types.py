"""What the gateway returns: Stripe statuses as enums and frozen snapshots.

No ``stripe.StripeObject`` leaves the package. Each snapshot copies the fields
the shop reads, in the shop's conventions (integer minor units, upper-case
ISO currency, ids instead of expanded objects), so callers never depend on
the stripe library's types or on localstripe's quirks (booleans sent back
as the form strings "true"/"false").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class IntentStatus(StrEnum):
    """Stripe's PaymentIntent and SetupIntent statuses, unchanged."""

    REQUIRES_PAYMENT_METHOD = "requires_payment_method"
    REQUIRES_CONFIRMATION = "requires_confirmation"
    REQUIRES_ACTION = "requires_action"
    PROCESSING = "processing"
    REQUIRES_CAPTURE = "requires_capture"
    CANCELED = "canceled"
    SUCCEEDED = "succeeded"


# An intent in these states can still change amount or payment method.
OPEN_INTENT_STATUSES = frozenset(
    {
        IntentStatus.REQUIRES_PAYMENT_METHOD,
        IntentStatus.REQUIRES_CONFIRMATION,
        IntentStatus.REQUIRES_ACTION,
    }
)


class RefundStatus(StrEnum):
    """Stripe's Refund statuses, unchanged."""

    PENDING = "pending"
    REQUIRES_ACTION = "requires_action"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


def _id(value: Any) -> str | None:
    """An expandable field's id, whether Stripe sent the id or the object."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    return str(value["id"])


def _bool(value: Any) -> bool:
    return value in (True, "true")


def _currency(value: Any) -> str:
    return str(value or "").upper()


def _metadata(value: Any) -> Mapping[str, str]:
    return {str(k): str(v) for k, v in dict(value or {}).items()}


@dataclass(frozen=True, slots=True)
class PaymentErrorSnapshot:
    """Why the last confirmation failed (PaymentIntent or SetupIntent)."""

    code: str
    decline_code: str
    message: str

    @classmethod
    def from_stripe(cls, error: Any) -> PaymentErrorSnapshot | None:
        if not error:
            return None
        return cls(
            code=str(error.get("code") or ""),
            decline_code=str(error.get("decline_code") or ""),
            message=str(error.get("message") or ""),
        )


@dataclass(frozen=True, slots=True)
class PaymentIntentSnapshot:
    id: str
    status: IntentStatus
    amount_minor: int
    currency: str
    client_secret: str
    metadata: Mapping[str, str] = field(default_factory=dict)
    customer: str | None = None
    payment_method: str | None = None
    latest_charge: str | None = None
    last_payment_error: PaymentErrorSnapshot | None = None
    cancellation_reason: str = ""

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_INTENT_STATUSES

    @classmethod
    def from_stripe(cls, obj: Any) -> PaymentIntentSnapshot:
        return cls(
            id=str(obj["id"]),
            status=IntentStatus(obj["status"]),
            amount_minor=int(obj["amount"]),
            currency=_currency(obj["currency"]),
            client_secret=str(obj.get("client_secret") or ""),
            metadata=_metadata(obj.get("metadata")),
            customer=_id(obj.get("customer")),
            payment_method=_id(obj.get("payment_method")),
            latest_charge=_id(obj.get("latest_charge")),
            last_payment_error=PaymentErrorSnapshot.from_stripe(
                obj.get("last_payment_error")
            ),
            cancellation_reason=str(obj.get("cancellation_reason") or ""),
        )


@dataclass(frozen=True, slots=True)
class SetupIntentSnapshot:
    id: str
    status: IntentStatus
    client_secret: str
    customer: str | None = None
    payment_method: str | None = None
    usage: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)
    last_setup_error: PaymentErrorSnapshot | None = None

    @classmethod
    def from_stripe(cls, obj: Any) -> SetupIntentSnapshot:
        return cls(
            id=str(obj["id"]),
            status=IntentStatus(obj["status"]),
            client_secret=str(obj.get("client_secret") or ""),
            customer=_id(obj.get("customer")),
            payment_method=_id(obj.get("payment_method")),
            usage=str(obj.get("usage") or ""),
            metadata=_metadata(obj.get("metadata")),
            last_setup_error=PaymentErrorSnapshot.from_stripe(
                obj.get("last_setup_error")
            ),
        )


@dataclass(frozen=True, slots=True)
class PaymentMethodSnapshot:
    id: str
    type: str
    customer: str | None = None
    card_brand: str = ""
    card_last4: str = ""

    @classmethod
    def from_stripe(cls, obj: Any) -> PaymentMethodSnapshot:
        card = obj.get("card") or {}
        return cls(
            id=str(obj["id"]),
            type=str(obj.get("type") or ""),
            customer=_id(obj.get("customer")),
            card_brand=str(card.get("brand") or ""),
            card_last4=str(card.get("last4") or ""),
        )


@dataclass(frozen=True, slots=True)
class CustomerSnapshot:
    id: str
    email: str
    name: str
    metadata: Mapping[str, str] = field(default_factory=dict)
    default_payment_method: str | None = None

    @classmethod
    def from_stripe(cls, obj: Any) -> CustomerSnapshot:
        settings = obj.get("invoice_settings") or {}
        return cls(
            id=str(obj["id"]),
            email=str(obj.get("email") or ""),
            name=str(obj.get("name") or ""),
            metadata=_metadata(obj.get("metadata")),
            default_payment_method=_id(settings.get("default_payment_method")),
        )


@dataclass(frozen=True, slots=True)
class RefundSnapshot:
    id: str
    status: RefundStatus
    amount_minor: int
    currency: str
    payment_intent: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_stripe(cls, obj: Any) -> RefundSnapshot:
        return cls(
            id=str(obj["id"]),
            # localstripe leaves the status out of some refunds: they are
            # synchronous there, so a missing status means it went through.
            status=RefundStatus(obj.get("status") or RefundStatus.SUCCEEDED),
            amount_minor=int(obj["amount"]),
            currency=_currency(obj.get("currency")),
            payment_intent=_id(obj.get("payment_intent")),
            metadata=_metadata(obj.get("metadata")),
        )


@dataclass(frozen=True, slots=True)
class WebhookEndpointSnapshot:
    """A webhook endpoint; ``secret`` is only ever set in the create answer."""

    id: str
    url: str
    secret: str
    status: str
    livemode: bool
    enabled_events: tuple[str, ...]
    api_version: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_stripe(cls, obj: Any) -> WebhookEndpointSnapshot:
        return cls(
            id=str(obj["id"]),
            url=str(obj["url"]),
            secret=str(obj.get("secret") or ""),
            status=str(obj.get("status") or ""),
            livemode=_bool(obj.get("livemode")),
            enabled_events=tuple(obj.get("enabled_events") or ()),
            api_version=str(obj.get("api_version") or ""),
            metadata=_metadata(obj.get("metadata")),
        )


@dataclass(frozen=True, slots=True)
class HostedSessionSnapshot:
    """A Checkout or Billing Portal session: where to send the shopper."""

    id: str
    url: str

    @classmethod
    def from_stripe(cls, obj: Any) -> HostedSessionSnapshot:
        return cls(id=str(obj["id"]), url=str(obj.get("url") or ""))


@dataclass(frozen=True, slots=True)
class PriceSnapshot:
    id: str
    product: str
    unit_amount_minor: int
    currency: str
    recurring_interval: str = ""
    active: bool = True

    @classmethod
    def from_stripe(cls, obj: Any) -> PriceSnapshot:
        recurring = obj.get("recurring") or {}
        return cls(
            id=str(obj["id"]),
            product=_id(obj.get("product")) or "",
            unit_amount_minor=int(obj.get("unit_amount") or 0),
            currency=_currency(obj.get("currency")),
            recurring_interval=str(recurring.get("interval") or ""),
            active=_bool(obj.get("active", True)),
        )
