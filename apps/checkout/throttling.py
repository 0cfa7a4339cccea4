"""Rate limits of the checkout endpoints (django-ratelimit), from settings."""

from django.conf import settings


def checkout_rate(group, request) -> str:
    return getattr(settings, "CHECKOUT_RATE", "50/5m")


def payment_rate(group, request) -> str:
    return getattr(settings, "CHECKOUT_PAYMENT_RATE", "10/5m")


def client_key(group, request) -> str:
    """Per signed-in user, else per IP address."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return request.META.get("REMOTE_ADDR", "")
