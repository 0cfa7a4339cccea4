"""Rate limits of the checkout endpoints (django-ratelimit), from settings.

Defaults: 50 checkout requests and 10 payment creations per 5 minutes per
client; ``CHECKOUT_RATE`` / ``CHECKOUT_PAYMENT_RATE`` override them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.conf import settings
from django_ratelimit.core import get_usage
from rest_framework.exceptions import Throttled

from apps.core.clients import client_key

DEFAULT_CHECKOUT_RATE = "50/5m"
DEFAULT_PAYMENT_RATE = "10/5m"


def checkout_rate(group, request) -> str:
    return getattr(settings, "CHECKOUT_RATE", DEFAULT_CHECKOUT_RATE)


def payment_rate(group, request) -> str:
    return getattr(settings, "CHECKOUT_PAYMENT_RATE", DEFAULT_PAYMENT_RATE)


def api_rate_limit(*, group: str, rate: Callable) -> Callable:
    """Limit an APIView method per client; over the limit raise Throttled.

    Unlike django-ratelimit's decorator this knows when the window ends, so
    the 429 carries the real wait in ``Retry-After`` and in
    ``error.details.retry_after``. Counters are shared with the pages that
    use the same group.
    """

    def decorator(method: Callable) -> Callable:
        @functools.wraps(method)
        def wrapper(self, request, *args, **kwargs):
            usage = get_usage(
                request, group=group, key=client_key, rate=rate, increment=True
            )
            if usage is not None and usage["should_limit"]:
                raise Throttled(
                    wait=max(1, int(usage["time_left"])),
                    detail="Too many requests. Try again later.",
                )
            return method(self, request, *args, **kwargs)

        return wrapper

    return decorator
