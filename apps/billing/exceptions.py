"""Billing errors: what a Stripe failure means to the rest of the shop."""

from apps.core.exceptions import ApplicationError, PaymentRequired
from apps.core.exceptions import TransientError as CoreTransientError


class PaymentDeclined(PaymentRequired):
    """The card was declined; the message is Stripe's, safe to show the buyer."""

    default_code = "card_declined"


class AuthenticationRequired(PaymentDeclined):
    """The bank wants 3-D Secure and the call could not show it (off-session).

    A PaymentDeclined, so callers that only know declines still stop; those
    that can bring the shopper back (subscriptions, dunning) catch this first.
    """

    default_code = "authentication_required"


class TransientError(CoreTransientError):
    """Stripe could not be reached or answered 5xx/429: retry later."""

    code = "payment_provider_unavailable"


class PaymentProviderError(ApplicationError):
    """Stripe refused the request (bad parameters, unknown object, auth)."""

    status_code = 502
    default_code = "payment_provider_error"
    codes: tuple[str, ...] = (
        "payment_provider_error",
        "refund_exceeds_payment",
        "refund_in_progress",
    )


class PaymentRequestInvalid(PaymentProviderError):
    """Stripe found the request itself wrong (unknown object, bad parameter).

    A bug or stale id on the shop's side, never the shopper's card: retrying
    the same request gives the same answer. ``details.stripe_code`` carries
    Stripe's own code (``resource_missing``, ``parameter_invalid_integer``…).
    """

    default_code = "payment_request_invalid"
    codes = ("payment_request_invalid",)


class StripeFeatureUnavailable(ApplicationError):
    """The configured Stripe server lacks an API the shop needs.

    localstripe has no Prices, Checkout Sessions or Billing Portal; features
    built on them fail visibly with this error instead of pretending.
    """

    status_code = 501
    default_code = "stripe_feature_unavailable"

    def __init__(self, feature: str, *, host: str):
        super().__init__(
            f"{feature} is not available on the Stripe server at {host} "
            "(localstripe does not implement it); use real Stripe test keys "
            "with STRIPE_API_HOST=https://api.stripe.com.",
            details={"feature": feature, "host": host},
        )
        self.feature = feature
