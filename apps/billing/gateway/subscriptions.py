"""Stripe calls for customers' subscriptions and invoices, as frozen snapshots.

Same rules as ``apps.billing.gateway`` (whose client, error translation and
idempotency options this reuses): settings read at call time, stripe errors
translated to billing exceptions, and nothing but plain dataclasses returned,
so callers never depend on StripeObject shapes.

Stripe and localstripe differ in three places this module hides:
- recurring prices are Prices on Stripe, legacy Plans on localstripe (items
  take ``price`` or ``plan``);
- the first invoice's client secret is ``confirmation_secret`` on Stripe's
  current API and the expanded ``payment_intent`` on localstripe;
- the billing period sits on the subscription item on Stripe's current API
  and only on the subscription on localstripe (read item first, then top).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from apps.billing import gateway
from apps.billing.exceptions import StripeFeatureUnavailable
from apps.billing.gateway.client import _client, _options, _translate
from apps.billing.gateway.intents import setup_intent_create as setup_intent_create
from apps.billing.gateway.types import SetupIntentSnapshot as SetupIntentSnapshot


def _ts(value: Any) -> dt.datetime | None:
    if value in (None, "", 0):
        return None
    return dt.datetime.fromtimestamp(int(value), tz=dt.UTC)


def _id(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return str(value.get("id") or "")


def _price_key() -> str:
    return "plan" if gateway.recurring_price_object() == "plan" else "price"


def _dict(obj: Any) -> dict[str, Any]:
    return obj.to_dict(recursive=True) if hasattr(obj, "to_dict") else dict(obj)


def publishable_key() -> str:
    """The key Stripe.js and mobile SDKs confirm with (never the secret)."""
    from django.conf import settings

    if settings.STRIPE_LIVE_MODE:
        return settings.STRIPE_LIVE_PUBLIC_KEY
    return settings.STRIPE_TEST_PUBLIC_KEY


# --- customers ----------------------------------------------------------------


def customer_create_for_user(
    *, user_id: int, email: str, name: str = "", idempotency_key: str = ""
) -> str:
    """Create the user's Stripe customer; the key makes a retry return the same."""
    customer = gateway.customer_create(
        email=email,
        name=name,
        metadata={"user_id": str(user_id)},
        idempotency_key=idempotency_key or f"customer-user-{user_id}",
    )
    return customer.id


# --- subscriptions ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubscriptionSnapshot:
    id: str
    customer: str
    status: str
    price_id: str
    item_id: str
    current_period_start: dt.datetime | None
    current_period_end: dt.datetime | None
    cancel_at_period_end: bool
    canceled_at: dt.datetime | None
    ended_at: dt.datetime | None
    trial_end: dt.datetime | None
    default_payment_method: str
    latest_invoice_id: str
    # What the client confirms: the first invoice's PaymentIntent, or a trial's
    # SetupIntent; empty once nothing is left to confirm.
    client_secret: str
    secret_kind: str  # "payment_intent", "setup_intent" or ""
    payment_intent_id: str
    # The Stripe coupon discounting it, if any.
    discount_coupon_id: str = ""
    # What the latest invoice asks for (after discounts), when it came expanded.
    latest_invoice_amount_due_minor: int | None = None


def _invoice_intent(invoice: dict[str, Any]) -> tuple[str, str, str]:
    """Return (intent id, client secret, status) of an expanded invoice."""
    intent = invoice.get("payment_intent")
    if isinstance(intent, dict):
        return intent["id"], intent.get("client_secret") or "", intent["status"]
    secret = (invoice.get("confirmation_secret") or {}).get("client_secret") or ""
    payments = (invoice.get("payments") or {}).get("data") or []
    intent_id = ""
    if payments:
        intent_id = _id((payments[0].get("payment") or {}).get("payment_intent"))
    status = "succeeded" if invoice.get("status") == "paid" else "requires_action"
    return intent_id or _id(intent), secret, status


def _subscription_snapshot(obj: Any) -> SubscriptionSnapshot:
    sub = _dict(obj)
    items = (sub.get("items") or {}).get("data") or []
    item = items[0] if items else {}
    price = item.get("price") or item.get("plan") or {}
    invoice = sub.get("latest_invoice")
    secret, kind, intent_id = "", "", ""
    if isinstance(invoice, dict) and sub["status"] == "incomplete":
        intent_id, secret, intent_status = _invoice_intent(invoice)
        if intent_status == "succeeded":
            secret = ""
        kind = "payment_intent" if secret else ""
    setup = sub.get("pending_setup_intent")
    if isinstance(setup, dict) and setup.get("status") != "succeeded":
        secret, kind = setup.get("client_secret") or "", "setup_intent"
    return SubscriptionSnapshot(
        id=sub["id"],
        customer=_id(sub.get("customer")),
        status=sub["status"],
        price_id=_id(price),
        item_id=str(item.get("id") or ""),
        current_period_start=_ts(
            item.get("current_period_start") or sub.get("current_period_start")
        ),
        current_period_end=_ts(
            item.get("current_period_end") or sub.get("current_period_end")
        ),
        cancel_at_period_end=sub.get("cancel_at_period_end") in (True, "true"),
        canceled_at=_ts(sub.get("canceled_at")),
        ended_at=_ts(sub.get("ended_at")),
        trial_end=_ts(sub.get("trial_end")),
        default_payment_method=_id(sub.get("default_payment_method")),
        latest_invoice_id=_id(invoice),
        client_secret=secret,
        secret_kind=kind,
        payment_intent_id=intent_id,
        discount_coupon_id=_discount_coupon(sub),
        latest_invoice_amount_due_minor=(
            int(invoice.get("amount_due") or 0) if isinstance(invoice, dict) else None
        ),
    )


def _discount_coupon(sub: dict[str, Any]) -> str:
    """The coupon of the (legacy) ``discount`` or the first expanded discount."""
    discounts = [d for d in sub.get("discounts") or [] if isinstance(d, dict)]
    discount = sub.get("discount") or (discounts[0] if discounts else None)
    if not isinstance(discount, dict):
        return ""
    coupon = discount.get("coupon") or (discount.get("source") or {}).get("coupon")
    return _id(coupon)


def _expand() -> list[str]:
    if gateway.is_localstripe():
        return ["latest_invoice.payment_intent", "pending_setup_intent"]
    return [
        "latest_invoice.confirmation_secret",
        "latest_invoice.payments",
        "pending_setup_intent",
        "discounts",
    ]


def subscription_create(
    *,
    customer_id: str,
    price_id: str,
    trial_days: int = 0,
    coupon: str = "",
    metadata: dict[str, str] | None = None,
    idempotency_key: str,
) -> SubscriptionSnapshot:
    """Create an incomplete subscription whose first payment the client confirms.

    ``payment_behavior=default_incomplete``: nothing is charged until the
    client confirms the returned secret (a SetupIntent's for a trial). The
    paid card is saved as the subscription's default for renewals.
    """
    params: dict[str, Any] = {
        "customer": customer_id,
        "items": [{_price_key(): price_id}],
        "payment_behavior": "default_incomplete",
        "payment_settings": {"save_default_payment_method": "on_subscription"},
        "metadata": metadata or {},
        "expand": _expand(),
    }
    if trial_days:
        params["trial_period_days"] = trial_days
    if coupon:
        params["discounts"] = [{"coupon": coupon}]
    created = _translate(
        lambda: _client().v1.subscriptions.create(
            params=params,  # type: ignore[arg-type]  # items key varies (plan/price)
            options=_options(idempotency_key),
        )
    )
    return _subscription_snapshot(created)


def subscription_retrieve(*, subscription_id: str) -> SubscriptionSnapshot:
    return _subscription_snapshot(
        _translate(
            lambda: _client().v1.subscriptions.retrieve(
                subscription_id,
                params={"expand": _expand()},
            )
        )
    )


def _update(
    subscription_id: str, params: dict[str, Any], idempotency_key: str | None
) -> SubscriptionSnapshot:
    updated = _translate(
        lambda: _client().v1.subscriptions.update(
            subscription_id,
            params={**params, "expand": _expand()},  # type: ignore[arg-type]
            options=_options(idempotency_key),
        )
    )
    return _subscription_snapshot(updated)


def subscription_change_price(
    *,
    subscription_id: str,
    item_id: str,
    price_id: str,
    prorate: bool = True,
    proration_date: int | None = None,
    idempotency_key: str,
) -> SubscriptionSnapshot:
    """Swap the subscription's price now, prorating the rest of the period.

    ``proration_date`` (epoch seconds) is the preview's: Stripe then prorates
    from the same second, so the charge equals the preview to the cent.
    """
    params: dict[str, Any] = {"items": [{"id": item_id, _price_key(): price_id}]}
    if prorate and proration_date is not None:
        params["proration_date"] = proration_date
    if not gateway.is_localstripe():
        params["proration_behavior"] = "always_invoice" if prorate else "none"
        params["payment_behavior"] = "pending_if_incomplete"
        return _update(subscription_id, params, idempotency_key)
    before = subscription_retrieve(subscription_id=subscription_id)
    after = _update(subscription_id, params, idempotency_key)
    if prorate and after.latest_invoice_id == before.latest_invoice_id:
        # localstripe has no always_invoice: it leaves the proration items
        # pending (and invoices by itself only when the interval changes).
        # Invoice and charge them now, as Stripe would.
        client = _client()
        invoice = _translate(
            lambda: client.v1.invoices.create(
                params={"customer": after.customer, "subscription": subscription_id},
                options=_options(f"{idempotency_key}-invoice"),
            )
        )
        _translate(
            lambda: client.v1.invoices.pay(
                invoice["id"], options=_options(f"{idempotency_key}-pay")
            )
        )
        after = subscription_retrieve(subscription_id=subscription_id)
    return after


def subscription_cancel(
    *, subscription_id: str, at_period_end: bool, idempotency_key: str
) -> SubscriptionSnapshot:
    """Cancel at the period end (resumable) or now (final)."""
    if at_period_end:
        return _update(subscription_id, {"cancel_at_period_end": True}, idempotency_key)
    canceled = _translate(
        lambda: _client().v1.subscriptions.cancel(
            subscription_id, options=_options(idempotency_key)
        )
    )
    return _subscription_snapshot(canceled)


def subscription_resume(
    *, subscription_id: str, idempotency_key: str
) -> SubscriptionSnapshot:
    """Undo a cancellation scheduled for the period end."""
    return _update(subscription_id, {"cancel_at_period_end": False}, idempotency_key)


# --- invoices -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InvoiceLineSnapshot:
    id: str
    description: str
    amount_minor: int
    currency: str
    quantity: int
    proration: bool
    price_id: str
    period_start: dt.datetime | None
    period_end: dt.datetime | None


@dataclass(frozen=True, slots=True)
class InvoiceSnapshot:
    id: str
    customer: str
    subscription_id: str
    number: str
    status: str
    currency: str
    subtotal_minor: int
    discount_minor: int
    tax_minor: int
    total_minor: int
    amount_due_minor: int
    amount_paid_minor: int
    period_start: dt.datetime | None
    period_end: dt.datetime | None
    created_at: dt.datetime | None
    paid_at: dt.datetime | None
    billing_reason: str
    payment_intent_id: str
    hosted_invoice_url: str
    invoice_pdf: str
    lines: tuple[InvoiceLineSnapshot, ...]


def _line_snapshot(line: dict[str, Any], currency: str) -> InvoiceLineSnapshot:
    pricing = line.get("pricing") or {}
    price = (
        (pricing.get("price_details") or {}).get("price")
        or line.get("price")
        or line.get("plan")
    )
    period = line.get("period") or {}
    parent = line.get("parent") or {}
    proration = line.get("proration")
    if proration is None:
        details = parent.get("subscription_item_details") or parent.get(
            "invoice_item_details"
        )
        proration = bool((details or {}).get("proration"))
    return InvoiceLineSnapshot(
        id=str(line.get("id") or ""),
        description=str(line.get("description") or ""),
        amount_minor=int(line.get("amount") or 0),
        currency=str(line.get("currency") or currency).upper(),
        quantity=int(line.get("quantity") or 1),
        proration=bool(proration),
        price_id=_id(price),
        period_start=_ts(period.get("start")),
        period_end=_ts(period.get("end")),
    )


def _invoice_snapshot(obj: Any) -> InvoiceSnapshot:
    inv = _dict(obj)
    currency = str(inv.get("currency") or "").upper()
    parent = (inv.get("parent") or {}).get("subscription_details") or {}
    subscription = _id(inv.get("subscription") or parent.get("subscription"))
    discounts = inv.get("total_discount_amounts") or []
    taxes = inv.get("total_taxes") or inv.get("total_tax_amounts") or []
    tax = inv.get("tax")
    if tax is None:
        tax = sum(int(t.get("amount") or 0) for t in taxes)
    intent_id = ""
    if inv.get("payment_intent") or inv.get("payments"):
        intent_id = _invoice_intent(inv)[0]
    lines = (inv.get("lines") or {}).get("data") or []
    return InvoiceSnapshot(
        id=str(inv.get("id") or ""),
        customer=_id(inv.get("customer")),
        subscription_id=subscription,
        number=str(inv.get("number") or ""),
        status=str(inv.get("status") or ""),
        currency=currency,
        subtotal_minor=int(inv.get("subtotal") or 0),
        discount_minor=sum(int(d.get("amount") or 0) for d in discounts),
        tax_minor=int(tax or 0),
        total_minor=int(inv.get("total") or 0),
        amount_due_minor=int(inv.get("amount_due") or 0),
        amount_paid_minor=int(inv.get("amount_paid") or 0),
        period_start=_ts(inv.get("period_start")),
        period_end=_ts(inv.get("period_end")),
        created_at=_ts(inv.get("created") or inv.get("date")),
        paid_at=_ts((inv.get("status_transitions") or {}).get("paid_at")),
        billing_reason=str(inv.get("billing_reason") or ""),
        payment_intent_id=intent_id,
        hosted_invoice_url=str(inv.get("hosted_invoice_url") or ""),
        invoice_pdf=str(inv.get("invoice_pdf") or ""),
        lines=tuple(_line_snapshot(line, currency) for line in lines),
    )


def _invoice_expand() -> list[str]:
    return ["payment_intent"] if gateway.is_localstripe() else ["payments"]


def invoice_retrieve(*, invoice_id: str) -> InvoiceSnapshot:
    return _invoice_snapshot(
        _translate(
            lambda: _client().v1.invoices.retrieve(
                invoice_id, params={"expand": _invoice_expand()}
            )
        )
    )


def invoice_list(
    *, customer_id: str = "", subscription_id: str = "", limit: int = 100
) -> list[InvoiceSnapshot]:
    """Return the newest invoices of a customer or subscription (one page)."""
    params: dict[str, Any] = {"limit": limit}
    if customer_id:
        params["customer"] = customer_id
    if subscription_id:
        params["subscription"] = subscription_id
    page = _translate(
        lambda: _client().v1.invoices.list(params=params)  # type: ignore[arg-type]
    )
    return [_invoice_snapshot(inv) for inv in page.data]


def invoice_preview_price_change(
    *,
    customer_id: str,
    subscription_id: str,
    item_id: str,
    price_id: str,
    proration_date: int | None = None,
) -> InvoiceSnapshot:
    """Preview the invoice a price change at ``proration_date`` would produce."""
    params: dict[str, Any] = {
        "customer": customer_id,
        "subscription": subscription_id,
        "subscription_details": {
            "items": [{"id": item_id, _price_key(): price_id}],
        },
    }
    if proration_date is not None:
        params["subscription_details"]["proration_date"] = proration_date
    if not gateway.is_localstripe():
        params["subscription_details"]["proration_behavior"] = "always_invoice"
    preview = _translate(
        lambda: _client().v1.invoices.create_preview(params=params)  # type: ignore[arg-type]
    )
    return _invoice_snapshot(preview)


# --- renewals on localstripe ------------------------------------------------------


def renewal_invoice_create_and_pay(
    *, customer_id: str, subscription_id: str, idempotency_key: str
) -> InvoiceSnapshot:
    """Invoice the subscription's next period and charge its saved card.

    localstripe never renews by itself; this is what Stripe does at a period
    end. Real Stripe renews on its own (use a test clock there), so this is
    refused with StripeFeatureUnavailable.
    """
    if not gateway.is_localstripe():
        raise StripeFeatureUnavailable("Simulated renewals", host=gateway.api_host())
    client = _client()
    invoice = _translate(
        lambda: client.v1.invoices.create(
            params={"customer": customer_id, "subscription": subscription_id},
            options=_options(idempotency_key),
        )
    )
    _translate(
        lambda: client.v1.invoices.pay(
            invoice["id"], options=_options(f"{idempotency_key}-pay")
        )
    )
    return invoice_retrieve(invoice_id=invoice["id"])
