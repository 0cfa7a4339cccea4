"""Billing errors: what a Stripe failure means to the rest of the shop."""

from apps.core.exceptions import ApplicationError, PaymentRequired
from apps.core.exceptions import TransientError as CoreTransientError


class PaymentDeclined(PaymentRequired):
    """The card was declined; the message is Stripe's, safe to show the buyer."""

    default_code = "card_declined"


class TransientError(CoreTransientError):
    """Stripe could not be reached or answered 5xx/429: retry later."""


class PaymentProviderError(ApplicationError):
    """Stripe refused the request (bad parameters, unknown object, auth)."""

    status_code = 502
    default_code = "payment_provider_error"
    codes = ("payment_provider_error", "refund_exceeds_payment", "refund_in_progress")


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
