"""The seat limit under real parallel verifies (PostgreSQL)."""

import pytest
from rest_framework.test import APIClient
from rest_framework_api_key.models import APIKey

from apps.subscriptions.licence_models import LicenceDevice
from apps.subscriptions.services import licences
from apps.subscriptions.services.licence_verify import licence_verify
from tests.parallel import run_in_parallel
from tests.subscriptions.factories import SubscriptionFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_ten_parallel_new_devices_with_three_seats_left_take_exactly_three():
    sub = SubscriptionFactory(status="active", price__plan__features={"devices": 5})
    issued = licences.licence_issue(subscription_id=sub.pk, email_key=False)
    for n in range(2):
        licence_verify(key=issued.key, device_id=f"old-{n}")
    _, raw = APIKey.objects.create_key(name="vpn")

    def verify(n):
        def job():
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
            r = client.post(
                "/api/v1/licences/verify",
                {"key": issued.key, "device_id": f"new-{n}"},
                format="json",
            )
            return r.status_code, r.json()

        return job

    results, errors = run_in_parallel([verify(n) for n in range(10)])

    assert errors == []
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] * 3 + [409] * 7
    refused = {body["error"]["code"] for status, body in results if status == 409}
    assert refused == {"seat_limit_reached"}
    assert LicenceDevice.objects.filter(licence=issued.licence).count() == 5
