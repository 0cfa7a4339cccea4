"""A coupon's limit under parallel subscribes (PostgreSQL, real threads)."""

import uuid

import pytest
from rest_framework.test import APIClient

from apps.coupons.models import CouponRedemption
from apps.subscriptions.models import Subscription
from tests.accounts.factories import UserFactory
from tests.coupons.factories import CouponFactory
from tests.parallel import run_in_parallel

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.localstripe,
    pytest.mark.django_db(transaction=True),
]


def test_parallel_subscribes_race_for_single_use_coupon_one_redemption(
    pushed_price,
):
    price = pushed_price(amount=1000)
    coupon = CouponFactory(for_subscriptions=True, value=5000, usage_limit=1)
    users = [UserFactory() for _ in range(8)]

    def subscribe_as(user):
        def subscribe():
            client = APIClient()
            client.force_authenticate(user)
            response = client.post(
                "/api/v1/subscriptions/",
                {"price": price.pk, "coupon": coupon.code},
                format="json",
                HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
            )
            return response.status_code, response.json()

        return subscribe

    results, errors = run_in_parallel([subscribe_as(user) for user in users])

    assert errors == []
    created = [body for status, body in results if status == 201]
    refused = [body["error"]["code"] for status, body in results if status != 201]
    assert len(created) == 1, results
    assert refused == ["coupon_usage_limit_reached"] * 7
    assert created[0]["amount_due"] == {"amount": 500, "currency": "USD"}
    coupon.refresh_from_db()
    assert coupon.times_redeemed == 1
    redemption = CouponRedemption.objects.get(coupon=coupon)
    assert redemption.order_ref == f"subscription-{created[0]['subscription']['id']}"
    # The refused requests wrote nothing: their rows rolled back with the claim.
    assert Subscription.objects.count() == 1
