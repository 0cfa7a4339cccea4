"""Plan errors, each with a stable code for API clients."""

from apps.core.exceptions import (
    ApplicationError,
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)


class PlanNotFound(NotFound):
    default_code = "plan_not_found"

    def __init__(self, slug: str):
        super().__init__(f"No plan {slug!r}.")


class UnknownPlans(ValidationFailed):
    default_code = "unknown_plan"

    def __init__(self, slugs: list[str]):
        super().__init__(
            "Unknown plan(s): " + ", ".join(slugs), details={"plans": slugs}
        )


class PriceNotFound(NotFound):
    default_code = "price_not_found"

    def __init__(self, price_id: object):
        super().__init__(f"No price {price_id}.", details={"price": price_id})


class PriceInactive(ValidationFailed):
    default_code = "price_inactive"

    def __init__(self, price_id: object):
        super().__init__(
            "This price is no longer offered; pick another on the pricing page.",
            details={"price": price_id},
        )


class PlanPrivate(PermissionDenied):
    default_code = "plan_private"

    def __init__(self, slug: str):
        super().__init__(
            "This plan is offered by arrangement only; contact us.",
            details={"plan": slug},
        )


class SubscriptionCurrencyMismatch(ValidationFailed):
    default_code = "currency_mismatch"

    def __init__(self, have: str, want: str):
        super().__init__(
            f"Your account is billed in {have}; pick a {have} price.",
            details={"account_currency": have, "price_currency": want},
        )


class AlreadySubscribed(Conflict):
    default_code = "already_subscribed"

    def __init__(self, subscription_id: int):
        super().__init__(
            "You already have a subscription; change its plan instead.",
            details={"subscription": subscription_id},
        )


class SubscriptionPending(Conflict):
    default_code = "subscription_pending"

    def __init__(self) -> None:
        super().__init__("Your subscription is being created; try again in a moment.")


class SubscriptionNotFound(NotFound):
    default_code = "subscription_not_found"

    def __init__(self, subscription_id: object):
        super().__init__(f"No subscription {subscription_id}.")


class SubscriptionNotCancellable(Conflict):
    default_code = "subscription_not_cancellable"
    codes = ("subscription_not_cancellable", "already_cancelling")

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message, code=code)


class SubscriptionNotResumable(Conflict):
    default_code = "not_cancelling"
    codes = ("not_cancelling", "resume_period_ended")

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message, code=code)


class PlanChangeInvalid(ValidationFailed):
    default_code = "same_price"
    codes = ("same_price", "currency_mismatch", "preview_expired")

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message, code=code)


class PlanChangeNotAllowed(Conflict):
    default_code = "subscription_not_changeable"


class InvoiceNotFound(NotFound):
    default_code = "invoice_not_found"

    def __init__(self, invoice_id: object):
        super().__init__(f"No invoice {invoice_id}.")


# --- licence keys and the guest subscribe flow (issue 14) ---------------------


class LicenceNotFound(NotFound):
    default_code = "licence_not_found"

    def __init__(self, licence_id: object):
        super().__init__(f"No licence {licence_id}.")


class SeatLimitReached(Conflict):
    default_code = "seat_limit_reached"

    def __init__(self, *, used: int, allowed: int):
        super().__init__(
            "Every seat of this licence is taken; release a device first.",
            details={"seats_used": used, "seats_allowed": allowed},
        )


class SubscribeFlowNotFound(NotFound):
    default_code = "subscribe_flow_not_found"

    def __init__(self) -> None:
        super().__init__("No such purchase.")


# --- entitlements and usage (issue 14) ---------------------------------------


class FeatureNotInPlan(PermissionDenied):
    default_code = "feature_not_in_plan"

    def __init__(self, feature: str, plan: dict[str, str] | None):
        where = f" The {plan['name']} plan has it." if plan else ""
        super().__init__(
            f"Your plan does not include {feature!r}.{where}",
            details={"feature": feature, "plan": plan},
        )


class MetricNotInPlan(PermissionDenied):
    default_code = "metric_not_in_plan"

    def __init__(self, metric: str):
        super().__init__(
            f"Your plan does not meter {metric!r}.", details={"metric": metric}
        )


class UsageLimitExceeded(ApplicationError):
    """Over a usage limit; ``details`` carries metric, limit, window, reset."""

    status_code = 429
    default_code = "usage_limit_exceeded"

    def __init__(self, details: dict[str, object], *, retry_after: int):
        super().__init__(
            f"Your {details['window']} limit of {details['limit']} "
            f"{details['metric']} is reached; it resets at {details['resets_at']}.",
            details=details,
        )
        self.retry_after = retry_after


# --- payment method update ----------------------------------------------------


class PaymentMethodNotUpdatable(Conflict):
    default_code = "subscription_ended"

    def __init__(self, status: str):
        super().__init__(
            f"A {status} subscription has no card to update.",
            details={"status": status},
        )


class SetupIntentNotFound(NotFound):
    default_code = "setup_intent_not_found"

    def __init__(self, setup_intent_id: str):
        super().__init__(
            f"No card setup {setup_intent_id}.",
            details={"setup_intent": setup_intent_id},
        )


class PaymentMethodNotConfirmed(Conflict):
    default_code = "payment_method_not_confirmed"

    def __init__(self, status: str):
        super().__init__(
            "The card has not been confirmed yet; confirm it, then try again.",
            details={"setup_intent_status": status},
        )


class NoBillingAccount(NotFound):
    """The user has never subscribed, so Stripe has no customer to manage."""

    default_code = "no_billing_account"

    def __init__(self) -> None:
        super().__init__("There is no billing account to manage yet.")
