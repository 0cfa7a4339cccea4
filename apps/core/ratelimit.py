"""Rate limits: one idiom for pages, the API and sign-in.

A limit is a named group ("checkout", "coupon", …) whose rate ("10/5m") is
a setting. Requests are counted per client: the signed-in account, else the
client address behind the shop's trusted proxies (so one office behind a NAT
is not throttled as one shopper once they sign in). Counters live in the
default cache; a client's window opens with its first counted request, so
the limit cannot be doubled by straddling a window edge and ``Retry-After``
is the real time until the window closes.

- Pages: ``@rate_limit("checkout")`` answers 429 with ``Retry-After`` and a
  page telling the real time left.
- API: ``RateLimitThrottle`` (DRF's default throttle) reads the view's
  ``rate_limits = {"POST": ("coupon",)}`` and raises ``Throttled``: the 429
  error envelope with ``Retry-After`` and ``details.retry_after``.
- Anything else (sign-in failures): ``usage()`` / ``peek()``.

When the cache is unreachable the limits fail open: the request goes on, a
warning is logged at most once per ``RATE_LIMIT_WARNING_INTERVAL`` seconds,
and ``/readyz`` reports the outage. Refusing sign-in and checkout to every
shopper because the counter store is down is worse than an unthrottled
minute.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import cache, caches
from django.shortcuts import render
from django_redis.cache import RedisCache
from django_redis.client import DefaultClient
from rest_framework.exceptions import Throttled
from rest_framework.throttling import BaseThrottle

from apps.core.clients import client_ip

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

MESSAGE = "Too many requests. Try again later."


@dataclass(frozen=True, slots=True)
class Limit:
    setting: str
    default: str


# Group → the setting that holds its rate, and the rate when it is unset.
LIMITS: dict[str, Limit] = {
    # Every checkout step, pages and API together.
    "checkout": Limit("CHECKOUT_RATE", "50/5m"),
    # Entering payment reserves stock and creates an intent.
    "checkout-payment": Limit("CHECKOUT_PAYMENT_RATE", "10/5m"),
    # Coupon-code guessing.
    "coupon": Limit("COUPON_APPLY_RATE", "10/m"),
    # Saving profiles and addresses: generous for a person, tight for a script.
    "account-write": Limit("ACCOUNT_WRITE_RATE", "30/m"),
    # Gift card balance checks and redemptions: code guessing.
    "gift-card": Limit("GIFT_CARD_CHECK_RATE", "10/5m"),
    # Wrong passwords per account (keyed by the address typed, not the client).
    "login-failed": Limit("ACCOUNT_LOGIN_FAILED_RATE", "5/5m"),
    # Licence verifies, counted per service API key (not per address).
    "licence-verify": Limit("LICENCE_VERIFY_RATE", "600/m"),
    # Guest purchases: each starts a Stripe customer and subscription.
    "subscribe-guest": Limit("SUBSCRIBE_GUEST_RATE", "10/10m"),
}

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE = re.compile(r"^(\d+)/(\d*)([smhd])$")


@dataclass(frozen=True, slots=True)
class Rate:
    amount: int
    seconds: int


def parse_rate(rate: str) -> Rate:
    """``"10/5m"`` → 10 per 300 seconds."""
    match = _RATE.match(rate.strip())
    if not match:
        raise ValueError(f"not a rate: {rate!r} (write e.g. '10/m' or '50/5m')")
    amount, multiplier, unit = match.groups()
    return Rate(int(amount), int(multiplier or 1) * _UNITS[unit])


def rate_for(group: str) -> str:
    limit = LIMITS[group]
    return getattr(settings, limit.setting, limit.default)


def client_key(request: HttpRequest) -> str:
    """Whom a limit counts: the signed-in account, else the client address."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"ip:{client_ip(request)}"


def clock() -> float:
    return time.time()


@dataclass(frozen=True, slots=True)
class Usage:
    count: int
    limit: int
    time_left: int

    @property
    def limited(self) -> bool:
        return self.count > self.limit


_warned_at = 0.0
_warn_lock = threading.Lock()


def warn_unavailable(what: str, exc: object) -> None:
    """Log that limits are off, at most once per interval (not per request)."""
    global _warned_at
    interval = getattr(settings, "RATE_LIMIT_WARNING_INTERVAL", 60)
    now = time.monotonic()
    with _warn_lock:
        if _warned_at and now - _warned_at < interval:
            return
        _warned_at = now
    logger.warning(
        "%s unavailable, rate limits are off until it is back: %s", what, exc
    )


def _count(group: str, key: str, *, increment: bool) -> Usage | None:
    rate = parse_rate(rate_for(group))
    now = int(clock())
    digest = hashlib.sha256(f"{group}\0{key}".encode()).hexdigest()[:40]
    count_key, started_key = f"rl:{digest}:n", f"rl:{digest}:t"
    try:
        if not increment:
            count = cache.get(count_key, 0)
            started = cache.get(started_key)
        elif (redis_cache := _redis_cache()) is not None:
            count, started = _count_in_redis(
                redis_cache, count_key, started_key, now=now, seconds=rate.seconds
            )
        else:
            # The first counted request opens the client's window; both keys
            # expire with it, so the next request opens a new one.
            cache.add(started_key, now, rate.seconds)
            cache.add(count_key, 0, rate.seconds)
            try:
                count = cache.incr(count_key)
            except ValueError:  # expired between add and incr: a new window
                cache.set(count_key, 1, rate.seconds)
                count = 1
            started = cache.get(started_key)
    except Exception as exc:
        warn_unavailable("rate-limit cache", exc)
        return None
    if count is None:  # a cache that swallows its errors (FailOpenRedisCache)
        return None
    started = now if started is None else int(started)
    return Usage(
        count=int(count),
        limit=rate.amount,
        time_left=max(1, started + rate.seconds - now),
    )


# What the add/add/incr/get sequence does, in one round trip instead of four
# (every checkout request is counted): open the window if it is not open
# (both keys expire with it), count, and read when the window opened. The
# values are stored as django-redis stores integers (plain, unpickled), so
# the cache's own get() reads them as the other path writes them.
_COUNT_LUA = """
redis.call('SET', KEYS[2], ARGV[1], 'NX', 'EX', ARGV[2])
redis.call('SET', KEYS[1], 0, 'NX', 'EX', ARGV[2])
local count = redis.call('INCR', KEYS[1])
return {count, redis.call('GET', KEYS[2])}
"""
_count_script: Any = None


def _redis_cache() -> Any:
    """The default cache when it is a plain django-redis one, else None."""
    backend = caches["default"]
    if isinstance(backend, RedisCache) and type(backend.client) is DefaultClient:
        return backend
    return None


def _count_in_redis(
    backend: Any, count_key: str, started_key: str, *, now: int, seconds: int
) -> tuple[int, int | None]:
    global _count_script
    client = backend.client
    redis = client.get_client(write=True)
    if _count_script is None:
        _count_script = redis.register_script(_COUNT_LUA)
    count, started = _count_script(
        keys=[client.make_key(count_key), client.make_key(started_key)],
        args=[now, seconds],
        client=redis,
    )
    return int(count), None if started is None else int(started)


def usage(request: HttpRequest, group: str, *, key: str | None = None) -> Usage | None:
    """Count this request against `group`; None when the cache is down."""
    return _count(group, key or client_key(request), increment=True)


def peek(request: HttpRequest, group: str, *, key: str | None = None) -> Usage | None:
    """The client's usage of `group` without counting this request."""
    return _count(group, key or client_key(request), increment=False)


def _first_limited(request: HttpRequest, groups: Iterable[str]) -> Usage | None:
    for group in groups:
        used = usage(request, group)
        if used is not None and used.limited:
            return used
    return None


def rate_limited_page(
    request: HttpRequest,
    used: Usage,
    *,
    template: str = "429.html",
    context: dict[str, Any] | None = None,
) -> HttpResponse:
    wait = used.time_left
    response = render(
        request,
        template,
        {"retry_after": wait, "minutes": -(-wait // 60), **(context or {})},
        status=429,
    )
    response["Retry-After"] = str(wait)
    return response


def rate_limit(
    *groups: str,
    methods: Iterable[str] | None = None,
    template: str = "429.html",
) -> Callable:
    """Limit a page view; over the limit answer 429 with the time left.

    `methods` limits only those (default: every method). The view's keyword
    arguments are in the template's context (the payment page links back).
    """
    counted = {m.upper() for m in methods} if methods else None

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            if counted is None or request.method in counted:
                used = _first_limited(request, groups)
                if used is not None:
                    return rate_limited_page(
                        request, used, template=template, context=kwargs
                    )
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


class RateLimitThrottle(BaseThrottle):
    """DRF's throttle for the views that declare ``rate_limits``.

    ``rate_limits = {"POST": ("coupon",)}`` counts POSTs against the coupon
    group; other methods and views without the attribute are not counted.
    """

    def allow_request(self, request, view) -> bool:
        groups = getattr(view, "rate_limits", {}).get(request.method, ())
        used = _first_limited(request, groups)
        if used is not None:
            raise Throttled(wait=used.time_left, detail=MESSAGE)
        return True
