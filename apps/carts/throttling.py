"""Coupon-code guessing is throttled per client (django-ratelimit)."""

from django.conf import settings

from apps.core.clients import client_key

__all__ = ["client_key", "coupon_rate"]


def coupon_rate(group, request) -> str:
    """Return the allowed coupon attempts, e.g. ``"10/m"`` (COUPON_APPLY_RATE)."""
    return getattr(settings, "COUPON_APPLY_RATE", "10/m")
