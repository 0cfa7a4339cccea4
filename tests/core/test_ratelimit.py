"""apps.core.ratelimit: per account or client address, fail open, one warning."""

import hashlib
import logging
import os
import uuid

import pytest
from django.core.cache import cache, caches
from django.test import RequestFactory

from apps.core import ratelimit
from config.settings.base import redis_caches
from tests.accounts.factories import UserFactory
from tests.conftest import free_port

pytestmark = pytest.mark.django_db


def test_rate_spec_reads_per_second_minute_and_multiples():
    assert ratelimit.parse_rate("10/m") == ratelimit.Rate(10, 60)
    assert ratelimit.parse_rate("50/5m") == ratelimit.Rate(50, 300)
    assert ratelimit.parse_rate("3/h") == ratelimit.Rate(3, 3600)
    with pytest.raises(ValueError, match="not a rate"):
        ratelimit.parse_rate("ten a minute")


def test_signed_in_shoppers_behind_one_address_have_their_own_budgets(client, settings):
    settings.COUPON_APPLY_RATE = "2/m"
    office = "198.51.100.20"  # one NAT address for the whole office

    def guess(user, code):
        client.force_login(user)
        return client.post(
            "/cart/coupons/", {"code": code}, REMOTE_ADDR=office
        ).status_code

    first, second = UserFactory(), UserFactory()
    assert [guess(first, f"G{n}") for n in range(3)] == [400, 400, 429]
    assert guess(second, "G9") == 400  # a colleague is not throttled


def test_rate_limits_fail_open_and_warn_once_per_interval_when_the_cache_is_down(
    settings, monkeypatch, caplog
):
    # A plain django-redis cache that raises: the limiter itself must cope.
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        }
    }
    settings.COUPON_APPLY_RATE = "1/m"
    monkeypatch.setattr(ratelimit, "_warned_at", 0.0)
    request = RequestFactory().post("/", REMOTE_ADDR="203.0.113.5")
    caplog.set_level(logging.WARNING, logger="apps.core.ratelimit")

    used = [ratelimit.usage(request, "coupon") for _ in range(3)]

    assert used == [None, None, None]  # not counted, so never limited
    warnings = [r for r in caplog.records if r.name == "apps.core.ratelimit"]
    assert len(warnings) == 1
    assert "rate limits are off" in warnings[0].getMessage()


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (REDIS_URL)")
def test_rate_limits_on_redis_count_in_one_round_trip_as_the_cache_reads_them(
    settings, monkeypatch
):
    settings.CACHES = redis_caches(os.environ["REDIS_URL"])
    settings.COUPON_APPLY_RATE = "2/m"
    now = 1_700_000_000
    monkeypatch.setattr(ratelimit, "clock", lambda: now)
    request = RequestFactory().post("/", REMOTE_ADDR="203.0.113.9")
    key = f"test:{uuid.uuid4()}"
    digest = hashlib.sha256(f"coupon\0{key}".encode()).hexdigest()[:40]
    # A window the add/incr path opened earlier is the one the script counts in.
    cache.add(f"rl:{digest}:t", now - 50, 60)
    cache.add(f"rl:{digest}:n", 0, 60)
    commands = []
    client = caches["default"].client.get_client(write=True)
    monkeypatch.setattr(
        client,
        "execute_command",
        lambda *a, _run=client.execute_command, **kw: (
            commands.append(a[0]) or _run(*a, **kw)
        ),
    )

    used = [ratelimit.usage(request, "coupon", key=key) for _ in range(3)]

    assert [(u.count, u.limited, u.time_left) for u in used] == [
        (1, False, 10),
        (2, False, 10),
        (3, True, 10),
    ]
    # One script call per counted request (Redis without the script cached
    # answers the first with NOSCRIPT: one load and one more call).
    assert set(commands) <= {"EVALSHA", "SCRIPT LOAD"}
    assert len(commands) - 2 * commands.count("SCRIPT LOAD") == 3
    assert cache.get(f"rl:{digest}:n") == 3
    assert ratelimit.peek(request, "coupon", key=key).count == 3
    cache.delete_many([f"rl:{digest}:n", f"rl:{digest}:t"])
