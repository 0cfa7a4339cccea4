"""Anonymous clients are told apart by address, behind the shop's own proxies."""

import pytest
from django.test import RequestFactory

from apps.core.clients import client_ip
from tests.carts.factories import CartLineFactory

pytestmark = pytest.mark.django_db


def _request(remote="10.0.0.2", forwarded=None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


@pytest.mark.parametrize(
    ("hops", "forwarded", "expected"),
    [
        (0, "203.0.113.9", "10.0.0.2"),  # no proxy configured: header ignored
        (1, None, "10.0.0.2"),  # reached us directly
        (1, "203.0.113.9", "203.0.113.9"),
        (1, "6.6.6.6, 203.0.113.9", "203.0.113.9"),  # a spoofed first entry
        (2, "203.0.113.9, 198.51.100.7", "203.0.113.9"),
        (2, "203.0.113.9", "10.0.0.2"),  # fewer hops than proxies: not trusted
        (1, "not-an-address", "10.0.0.2"),
    ],
)
def test_client_ip_trusts_exactly_the_configured_proxies(
    settings, hops, forwarded, expected
):
    settings.TRUSTED_PROXY_COUNT = hops

    assert client_ip(_request(forwarded=forwarded)) == expected


def test_coupon_guessing_behind_a_load_balancer_is_throttled_per_shopper(
    api_client, settings
):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.COUPON_APPLY_RATE = "3/m"
    url = f"/api/v1/carts/{CartLineFactory().cart.pk}/coupons/"

    def guess(shopper, code):
        return api_client.post(
            url,
            {"code": code},
            format="json",
            REMOTE_ADDR="10.0.0.2",  # the balancer, for everyone
            HTTP_X_FORWARDED_FOR=shopper,
        ).status_code

    guesser = [guess(f"6.6.6.{n}, 203.0.113.9", f"GUESS{n}") for n in range(4)]
    bystander = guess("198.51.100.7", "GUESS9")

    assert guesser == [400, 400, 400, 429]  # spoofing the header does not help
    assert bystander == 400  # refused code, not throttled by the guesser
