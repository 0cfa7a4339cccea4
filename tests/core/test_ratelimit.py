"""apps.core.ratelimit: per account or client address, fail open, one warning."""

import logging

import pytest
from django.test import RequestFactory

from apps.core import ratelimit
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
