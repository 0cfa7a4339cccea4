"""Coupon-code guessing is throttled per client (django-ratelimit)."""

from django.conf import settings


def coupon_rate(group, request) -> str:
    """Return the allowed coupon attempts, e.g. ``"10/m"`` (COUPON_APPLY_RATE)."""
    return getattr(settings, "COUPON_APPLY_RATE", "10/m")


def client_key(group, request) -> str:
    """Throttle per signed-in user, else per IP address."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return request.META.get("REMOTE_ADDR", "")
