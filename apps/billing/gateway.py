"""The one module that talks to Stripe.

Every Stripe API call in the shop goes through these functions (dj-stripe's own
syncing aside). They read settings at call time, send idempotency keys, and
translate the stripe library's errors into billing exceptions:

- a declined card -> PaymentDeclined (402, Stripe's message, code card_declined)
- network errors, 429 and 5xx -> TransientError (retry later)
- any other refusal -> PaymentProviderError
- an API the configured server lacks (localstripe: Prices, Checkout Sessions,
  Billing Portal, Webhook Endpoints) -> StripeFeatureUnavailable
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import requests
import stripe
from django.conf import settings

from apps.billing.exceptions import (
    PaymentDeclined,
    PaymentProviderError,
    StripeFeatureUnavailable,
    TransientError,
)

if TYPE_CHECKING:
    from stripe.params import (
        CustomerCreateParams,
        PaymentIntentCreateParams,
        PaymentIntentUpdateParams,
        PaymentMethodCreateParamsCard,
        PriceCreateParams,
        RefundCreateParams,
        WebhookEndpointCreateParams,
    )
    from stripe.params.checkout import SessionCreateParams, SessionCreateParamsLineItem

T = TypeVar("T")

REAL_STRIPE_HOST = "api.stripe.com"


def api_host() -> str:
    # Production settings delete STRIPE_API_HOST when it is unset (dj-stripe's
    # check W002 forbids it there), which means Stripe itself.
    host = getattr(settings, "STRIPE_API_HOST", "") or f"https://{REAL_STRIPE_HOST}"
    return host.rstrip("/")


def is_localstripe() -> bool:
    """Return True when STRIPE_API_HOST is not Stripe itself (localstripe)."""
    return urlsplit(api_host()).hostname != REAL_STRIPE_HOST


def secret_key() -> str:
    if settings.STRIPE_LIVE_MODE:
        return settings.STRIPE_LIVE_SECRET_KEY
    return settings.STRIPE_TEST_SECRET_KEY


@functools.lru_cache(maxsize=8)
def _client_for(key: str, host: str) -> stripe.StripeClient:
    return stripe.StripeClient(key, base_addresses={"api": host}, max_network_retries=2)


def _client() -> stripe.StripeClient:
    return _client_for(secret_key(), api_host())


def _options(idempotency_key: str | None) -> stripe.RequestOptions:
    return {"idempotency_key": idempotency_key} if idempotency_key else {}


def _translate(call: Callable[[], T]) -> T:
    try:
        return call()
    except stripe.CardError as exc:
        error = exc.error
        intent = getattr(error, "payment_intent", None) if error else None
        raise PaymentDeclined(
            exc.user_message or "Your card was declined.",
            code="card_declined",
            details={
                "decline_code": getattr(error, "decline_code", None)
                or exc.code
                or "card_declined",
                "payment_intent": intent.get("id") if intent else None,
            },
        ) from exc
    except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
        raise TransientError(str(exc)) from exc
    except stripe.APIError as exc:
        raise TransientError(f"Stripe answered {exc.http_status}: {exc}") from exc
    except stripe.StripeError as exc:
        raise PaymentProviderError(
            exc.user_message or str(exc) or "Stripe refused the request.",
            details={"stripe_code": exc.code, "http_status": exc.http_status},
        ) from exc


def _require_real_stripe(feature: str) -> None:
    if is_localstripe():
        raise StripeFeatureUnavailable(feature, host=api_host())


# --- customers ----------------------------------------------------------------


def customer_create(
    *,
    email: str,
    name: str = "",
    metadata: dict[str, str] | None = None,
    idempotency_key: str,
) -> stripe.Customer:
    """Create a Stripe customer."""
    params: CustomerCreateParams = {"email": email, "metadata": metadata or {}}
    if name:
        params["name"] = name
    return _translate(
        lambda: _client().v1.customers.create(
            params=params, options=_options(idempotency_key)
        )
    )


# --- payment intents ------------------------------------------------------------


def payment_intent_create(
    *,
    amount_minor: int,
    currency: str,
    metadata: dict[str, str] | None = None,
    idempotency_key: str,
    customer: str | None = None,
) -> stripe.PaymentIntent:
    """Create a card PaymentIntent for amount_minor in currency."""
    params: PaymentIntentCreateParams = {
        "amount": amount_minor,
        "currency": currency.lower(),
        "metadata": metadata or {},
        "payment_method_types": ["card"],
    }
    if customer:
        params["customer"] = customer
    return _translate(
        lambda: _client().v1.payment_intents.create(
            params=params, options=_options(idempotency_key)
        )
    )


def payment_intent_update(
    *,
    payment_intent_id: str,
    amount_minor: int | None = None,
    metadata: dict[str, str] | None = None,
    payment_method: str | None = None,
    idempotency_key: str | None = None,
) -> stripe.PaymentIntent:
    """Change an unconfirmed PaymentIntent's amount, metadata or payment method."""
    params: PaymentIntentUpdateParams = {}
    if amount_minor is not None:
        params["amount"] = amount_minor
    if metadata is not None:
        params["metadata"] = metadata
    if payment_method is not None:
        params["payment_method"] = payment_method
    return _translate(
        lambda: _client().v1.payment_intents.update(
            payment_intent_id, params=params, options=_options(idempotency_key)
        )
    )


def payment_intent_retrieve(*, payment_intent_id: str) -> stripe.PaymentIntent:
    return _translate(lambda: _client().v1.payment_intents.retrieve(payment_intent_id))


def payment_intent_cancel(
    *, payment_intent_id: str, idempotency_key: str | None = None
) -> stripe.PaymentIntent:
    return _translate(
        lambda: _client().v1.payment_intents.cancel(
            payment_intent_id, options=_options(idempotency_key)
        )
    )


def payment_method_create_card(
    *, number: str, exp_month: int = 12, exp_year: int = 2034, cvc: str = "123"
) -> stripe.PaymentMethod:
    """Create a card PaymentMethod from raw card data (test mode only).

    Real Stripe refuses raw card numbers from servers unless the account is
    enabled for it; this exists for tests and mobile-SDK-like confirmation.
    """
    card: PaymentMethodCreateParamsCard = {
        "number": number,
        "exp_month": exp_month,
        "exp_year": exp_year,
    }
    return _translate(
        lambda: _client().v1.payment_methods.create(
            params={"type": "card", "card": {**card, "cvc": cvc}}
        )
    )


def payment_intent_confirm(
    *,
    payment_intent_id: str,
    card_number: str | None = None,
    payment_method: str | None = None,
    idempotency_key: str | None = None,
) -> stripe.PaymentIntent:
    """Confirm a PaymentIntent server-side, as a mobile SDK would.

    With card_number, first create a PaymentMethod from it. The payment method
    is set with an update and then confirmed, because localstripe answers 500
    to a confirm carrying `payment_method`. Raise PaymentDeclined when the
    card is declined.
    """
    if card_number:
        payment_method = payment_method_create_card(number=card_number).id
    if payment_method:
        payment_intent_update(
            payment_intent_id=payment_intent_id, payment_method=payment_method
        )
    return _translate(
        lambda: _client().v1.payment_intents.confirm(
            payment_intent_id, options=_options(idempotency_key)
        )
    )


# --- refunds --------------------------------------------------------------------


def refund_create(
    *,
    payment_intent_id: str,
    amount_minor: int | None = None,
    idempotency_key: str,
    metadata: dict[str, str] | None = None,
) -> stripe.Refund:
    """Refund a succeeded PaymentIntent in full, or amount_minor of it."""
    params: RefundCreateParams = {"payment_intent": payment_intent_id}
    if amount_minor is not None:
        params["amount"] = amount_minor
    if metadata:
        params["metadata"] = metadata
    return _translate(
        lambda: _client().v1.refunds.create(
            params=params, options=_options(idempotency_key)
        )
    )


# --- webhooks -------------------------------------------------------------------


def webhook_endpoint_create(
    *,
    url: str,
    enabled_events: Sequence[str] = ("*",),
    metadata: dict[str, str] | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Register a webhook endpoint with Stripe; return it as plain data.

    The response is the only one that carries the endpoint's secret.
    localstripe has no Webhook Endpoints API: use localstripe_webhook_register.
    """
    _require_real_stripe("Webhook Endpoints API")
    params: WebhookEndpointCreateParams = {
        "url": url,
        # Any event name goes through: Stripe adds events faster than the stubs.
        "enabled_events": list(enabled_events),  # type: ignore[arg-type]  # stripe Literal: today's events
        "metadata": metadata or {},
    }
    endpoint = _translate(
        lambda: _client().v1.webhook_endpoints.create(
            params=params, options=_options(idempotency_key)
        )
    )
    return endpoint.to_dict(recursive=True)


def localstripe_webhook_register(
    *, name: str, url: str, secret: str, events: Sequence[str] | None = None
) -> None:
    """Tell localstripe to POST signed events to url (lost when it restarts)."""
    if not is_localstripe():
        raise ValueError("localstripe_webhook_register needs a localstripe host")
    payload: dict[str, Any] = {"url": url, "secret": secret}
    if events:
        payload["events"] = list(events)
    try:
        response = requests.post(
            f"{api_host()}/_config/webhooks/{name}", json=payload, timeout=10
        )
    except requests.RequestException as exc:
        raise TransientError(f"localstripe unreachable: {exc}") from exc
    if response.status_code != 200:
        raise PaymentProviderError(
            f"localstripe refused the webhook registration: {response.text}",
            details={"http_status": response.status_code},
        )


# --- APIs localstripe lacks -------------------------------------------------------


def price_create(
    *,
    product: str,
    unit_amount_minor: int,
    currency: str,
    recurring_interval: str | None = None,
    idempotency_key: str,
) -> stripe.Price:
    """Create a Price (needs real Stripe: localstripe only has legacy Plans)."""
    _require_real_stripe("Prices API")
    params: PriceCreateParams = {
        "product": product,
        "unit_amount": unit_amount_minor,
        "currency": currency.lower(),
    }
    if recurring_interval:
        params["recurring"] = {"interval": recurring_interval}
    return _translate(
        lambda: _client().v1.prices.create(
            params=params, options=_options(idempotency_key)
        )
    )


def checkout_session_create(
    *,
    mode: str,
    line_items: list[SessionCreateParamsLineItem],
    success_url: str,
    cancel_url: str,
    customer: str | None = None,
    idempotency_key: str,
) -> stripe.checkout.Session:
    """Create a hosted Checkout Session (needs real Stripe)."""
    _require_real_stripe("Checkout Sessions API")
    params: SessionCreateParams = {
        "mode": mode,
        "line_items": line_items,
        "success_url": success_url,
        "cancel_url": cancel_url,
    }
    if customer:
        params["customer"] = customer
    return _translate(
        lambda: _client().v1.checkout.sessions.create(
            params=params, options=_options(idempotency_key)
        )
    )


def billing_portal_session_create(
    *, customer: str, return_url: str
) -> stripe.billing_portal.Session:
    """Create a Billing Portal session (needs real Stripe)."""
    _require_real_stripe("Billing Portal API")
    return _translate(
        lambda: _client().v1.billing_portal.sessions.create(
            params={"customer": customer, "return_url": return_url}
        )
    )


# --- products and recurring prices (subscription plans) ---------------------------


@dataclass(frozen=True, slots=True)
class ProductSnapshot:
    id: str
    name: str
    active: bool


@dataclass(frozen=True, slots=True)
class RecurringPriceSnapshot:
    """A recurring price: a Price on real Stripe, a legacy Plan on localstripe."""

    id: str
    object: str  # "price" or "plan"
    product: str
    amount_minor: int
    currency: str
    interval: str
    interval_count: int
    active: bool


def recurring_price_object() -> str:
    """Which Stripe object holds a recurring price on the configured server.

    localstripe has no Prices API, only the legacy Plans (which real Stripe
    still accepts in subscriptions), so there we push Plans.
    """
    return "plan" if is_localstripe() else "price"


def _missing_as_none(call: Callable[[], T]) -> T | None:
    try:
        return call()
    except stripe.InvalidRequestError as exc:
        if exc.http_status == 404:
            return None
        raise


def _product_snapshot(product: Any) -> ProductSnapshot:
    return ProductSnapshot(
        id=product["id"],
        name=product["name"],
        active=product["active"] in (True, "true"),
    )


def product_upsert(
    *,
    product_id: str,
    name: str,
    description: str = "",
    active: bool = True,
    metadata: dict[str, str] | None = None,
) -> ProductSnapshot:
    """Create or update the Product with our deterministic id (idempotent)."""
    client = _client()
    fields: dict[str, Any] = {"name": name, "active": active}
    if description:
        fields["description"] = description
    if metadata:
        fields["metadata"] = metadata
    existing = _translate(
        lambda: _missing_as_none(lambda: client.v1.products.retrieve(product_id))
    )
    if existing is None:
        created = _translate(
            lambda: client.v1.products.create(
                params={"id": product_id, **fields},  # type: ignore[typeddict-item]
                options=_options(f"product-create-{product_id}"),
            )
        )
        return _product_snapshot(created)
    updated = _translate(
        lambda: client.v1.products.update(product_id, params=fields)  # type: ignore[arg-type]
    )
    return _product_snapshot(updated)


def product_retrieve(*, product_id: str) -> ProductSnapshot:
    return _product_snapshot(
        _translate(lambda: _client().v1.products.retrieve(product_id))
    )


def _recurring_snapshot(obj: Any, kind: str) -> RecurringPriceSnapshot:
    if kind == "plan":
        amount, interval, count = obj["amount"], obj["interval"], obj["interval_count"]
    else:
        recurring = obj["recurring"]
        amount = obj["unit_amount"]
        interval, count = recurring["interval"], recurring["interval_count"]
    product = obj["product"]
    return RecurringPriceSnapshot(
        id=obj["id"],
        object=kind,
        product=product if isinstance(product, str) else product["id"],
        amount_minor=int(amount),
        currency=str(obj["currency"]).upper(),
        interval=interval,
        interval_count=int(count),
        # localstripe stores an updated flag as the form string "false".
        active=obj["active"] in (True, "true"),
    )


def recurring_price_create(
    *,
    product_id: str,
    amount_minor: int,
    currency: str,
    interval: str,
    interval_count: int = 1,
    reference: str,
    metadata: dict[str, str] | None = None,
) -> RecurringPriceSnapshot:
    """Create the recurring price for our row ``reference``, at most once.

    On localstripe a Plan whose id is the reference (retried: the existing one
    is returned). On real Stripe a Price, with the reference as idempotency
    key (Prices take no custom id) and as metadata.
    """
    client = _client()
    kind = recurring_price_object()
    meta = {"reference": reference, **(metadata or {})}
    if kind == "plan":
        existing = _translate(
            lambda: _missing_as_none(lambda: client.v1.plans.retrieve(reference))
        )
        if existing is not None:
            return _recurring_snapshot(existing, "plan")
        plan = _translate(
            lambda: client.v1.plans.create(
                params={
                    "id": reference,
                    "product": product_id,
                    "amount": amount_minor,
                    "currency": currency.lower(),
                    "interval": interval,
                    "interval_count": interval_count,
                    "metadata": meta,
                },
                options=_options(f"plan-create-{reference}"),
            )
        )
        return _recurring_snapshot(plan, "plan")
    price = _translate(
        lambda: client.v1.prices.create(
            params={
                "product": product_id,
                "unit_amount": amount_minor,
                "currency": currency.lower(),
                "recurring": {
                    "interval": interval,
                    "interval_count": interval_count,
                },
                "metadata": meta,
            },
            options=_options(f"price-create-{reference}"),
        )
    )
    return _recurring_snapshot(price, "price")


def recurring_price_retrieve(*, price_id: str) -> RecurringPriceSnapshot:
    client = _client()
    if recurring_price_object() == "plan":
        return _recurring_snapshot(
            _translate(lambda: client.v1.plans.retrieve(price_id)), "plan"
        )
    return _recurring_snapshot(
        _translate(lambda: client.v1.prices.retrieve(price_id)), "price"
    )


def recurring_price_set_active(
    *, price_id: str, active: bool
) -> RecurringPriceSnapshot:
    """Archive (or revive) a recurring price; amounts never change in Stripe."""
    client = _client()
    if recurring_price_object() == "plan":
        return _recurring_snapshot(
            _translate(
                lambda: client.v1.plans.update(price_id, params={"active": active})
            ),
            "plan",
        )
    return _recurring_snapshot(
        _translate(
            lambda: client.v1.prices.update(price_id, params={"active": active})
        ),
        "price",
    )
