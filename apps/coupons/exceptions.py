"""Coupon errors. Each refusal has its own stable code for API clients and forms."""

from apps.core.exceptions import ApplicationError, NotFound

COUPON_ERROR_CODES = (
    "coupon_not_found",
    "coupon_inactive",
    "coupon_not_started",
    "coupon_expired",
    "coupon_minimum_not_met",
    "coupon_usage_limit_reached",
    "coupon_customer_limit_reached",
    "coupon_not_applicable",
    "coupon_not_combinable",
    "coupon_first_order_only",
    "coupon_not_valid_for_orders",
    "coupon_not_valid_for_subscriptions",
)


class CouponNotFound(NotFound):
    """Unknown code. Rendered as 400 like the other refusals: the cart exists."""

    status_code = 400
    default_code = "coupon_not_found"


class CouponNotApplicable(ApplicationError):
    """The coupon exists but cannot be used here; ``code`` says why."""

    status_code = 400
    default_code = "coupon_not_applicable"
    codes = tuple(c for c in COUPON_ERROR_CODES if c != "coupon_not_found")
