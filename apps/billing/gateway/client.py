"""Keys, host, the stripe client and the error translation every call shares."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

import stripe
from django.conf import settings

from apps.billing.exceptions import (
    AuthenticationRequired,
    PaymentDeclined,
    PaymentProviderError,
    PaymentRequestInvalid,
    StripeFeatureUnavailable,
    TransientError,
)

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
    """Run a Stripe call, turning the stripe library's errors into the shop's.

    - the bank wants 3-D Secure on a call that cannot show it -> AuthenticationRequired
    - any other card error -> PaymentDeclined (Stripe's message, safe to show)
    - network errors, 429, 5xx, a lock or a key in flight (409) -> TransientError
    - an invalid request (unknown id, bad parameter) -> PaymentRequestInvalid
    - anything else Stripe refuses (auth, permissions…) -> PaymentProviderError
    """
    try:
        return call()
    except stripe.CardError as exc:
        error = exc.error
        intent = getattr(error, "payment_intent", None) if error else None
        details = {
            "decline_code": getattr(error, "decline_code", None)
            or exc.code
            or "card_declined",
            "payment_intent": intent.get("id") if intent else None,
        }
        if exc.code == "authentication_required":
            raise AuthenticationRequired(
                exc.user_message or "Your bank asks you to confirm this payment.",
                details=details,
            ) from exc
        raise PaymentDeclined(
            exc.user_message or "Your card was declined.",
            code="card_declined",
            details=details,
        ) from exc
    except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
        raise TransientError(str(exc)) from exc
    except stripe.IdempotencyError as exc:
        # 409: the same key is still in flight (retry); 400: the key was used
        # with other parameters, which no retry fixes.
        if exc.http_status == 409:
            raise TransientError(f"Stripe request in progress: {exc}") from exc
        raise PaymentRequestInvalid(str(exc), details=_error_details(exc)) from exc
    except stripe.APIError as exc:
        raise TransientError(f"Stripe answered {exc.http_status}: {exc}") from exc
    except stripe.InvalidRequestError as exc:
        if exc.http_status == 409 and exc.code == "lock_timeout":
            raise TransientError(f"Stripe object locked: {exc}") from exc
        raise PaymentRequestInvalid(
            exc.user_message or str(exc) or "Stripe found the request invalid.",
            details=_error_details(exc),
        ) from exc
    except stripe.StripeError as exc:
        raise PaymentProviderError(
            exc.user_message or str(exc) or "Stripe refused the request.",
            details=_error_details(exc),
        ) from exc


def _error_details(exc: stripe.StripeError) -> dict[str, object]:
    return {"stripe_code": exc.code, "http_status": exc.http_status}


def _require_real_stripe(feature: str) -> None:
    if is_localstripe():
        raise StripeFeatureUnavailable(feature, host=api_host())


def _missing_as_none(call: Callable[[], T]) -> T | None:
    try:
        return call()
    except stripe.InvalidRequestError as exc:
        if exc.http_status == 404:
            return None
        raise
