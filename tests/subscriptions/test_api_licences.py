"""Licence API: the owner's list, rotate, release; the service's verify."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient
from rest_framework_api_key.models import APIKey

from apps.subscriptions.licence_models import LicenceDevice, LicenceKey
from apps.subscriptions.services import licences
from apps.subscriptions.services.licence_verify import licence_verify
from tests.accounts.factories import UserFactory
from tests.subscriptions.factories import SubscriptionFactory

pytestmark = pytest.mark.django_db

VERIFY = "/api/v1/licences/verify"


def issue(*, user=None, seats=3, devices=0):
    sub = SubscriptionFactory(
        status="active",
        price__plan__features={"devices": seats},
        **({"user": user} if user else {}),
    )
    issued = licences.licence_issue(subscription_id=sub.pk, email_key=False)
    for n in range(devices):
        licence_verify(key=issued.key, device_id=f"dev-{n}")
    return issued


def service_client(name="vpn"):
    client = APIClient()
    client.default_format = "json"
    _, raw = APIKey.objects.create_key(name=name)
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


@pytest.fixture
def service():
    return service_client()


def test_list_shows_own_masked_keys_with_devices_in_constant_queries(
    api_client, django_assert_num_queries
):
    user = UserFactory()
    issue(user=user, devices=2)
    issue()  # someone else's
    api_client.force_authenticate(user)

    with django_assert_num_queries(2):
        r = api_client.get("/api/v1/licences/")

    assert r.status_code == 200
    (row,) = r.json()
    assert row["key"].endswith("-****")
    assert row["status"] == "active"
    assert (row["seats_used"], row["seats_allowed"]) == (2, 3)
    assert [d["device_id"] for d in row["devices"]] == ["dev-0", "dev-1"]

    for _ in range(4):
        issued = issue(devices=1)
        LicenceKey.objects.filter(pk=issued.licence.pk).update(user=user)
    with django_assert_num_queries(2):
        assert len(api_client.get("/api/v1/licences/").json()) == 5


def test_list_needs_sign_in(api_client):
    assert api_client.get("/api/v1/licences/").status_code == 401


def test_rotate_answers_the_new_key_once_and_old_stops(api_client, service):
    issued = issue()
    api_client.force_authenticate(issued.licence.user)

    r = api_client.post(f"/api/v1/licences/{issued.licence.pk}/rotate/")

    assert r.status_code == 201
    new_key = r.json()["key"]
    assert (
        service.post(VERIFY, {"key": issued.key, "device_id": "x"}).json()["status"]
        == "revoked"
    )
    assert (
        service.post(VERIFY, {"key": new_key, "device_id": "x"}).json()["status"]
        == "valid"
    )
    again = api_client.post(f"/api/v1/licences/{issued.licence.pk}/rotate/")
    assert again.status_code == 409


def test_rotate_or_release_someone_elses_is_404(api_client):
    issued = issue(devices=1)
    api_client.force_authenticate(UserFactory())
    device = LicenceDevice.objects.get()
    assert (
        api_client.post(f"/api/v1/licences/{issued.licence.pk}/rotate/").json()[
            "error"
        ]["code"]
        == "licence_not_found"
    )
    r = api_client.post(
        f"/api/v1/licences/{issued.licence.pk}/devices/{device.pk}/release/"
    )
    assert r.status_code == 404


def test_release_frees_the_seat(api_client):
    issued = issue(seats=1, devices=1)
    api_client.force_authenticate(issued.licence.user)
    device = LicenceDevice.objects.get()

    r = api_client.post(
        f"/api/v1/licences/{issued.licence.pk}/devices/{device.pk}/release/"
    )

    assert r.status_code == 204
    assert licence_verify(key=issued.key, device_id="new").status == "valid"


def test_verify_valid_answers_plan_features_expiry_and_seats(service):
    issued = issue(seats=3, devices=1)

    r = service.post(VERIFY, {"key": issued.key.lower(), "device_id": "dev-9"})

    assert r.status_code == 200
    body = r.json()
    plan = issued.licence.subscription.price.plan
    assert body == {
        "status": "valid",
        "plan": plan.slug,
        "features": {"devices": 3},
        "expires_at": body["expires_at"],
        "seats_used": 2,
        "seats_allowed": 3,
    }


def test_verify_new_device_beyond_seats_is_409(service):
    issued = issue(seats=1, devices=1)

    r = service.post(VERIFY, {"key": issued.key, "device_id": "another"})

    assert r.status_code == 409
    assert r.json()["error"]["code"] == "seat_limit_reached"
    assert r.json()["error"]["details"] == {"seats_used": 1, "seats_allowed": 1}


def test_verify_unknown_and_revoked_answer_the_same_shape(service):
    issued = issue()
    licences.licence_rotate(user=issued.licence.user, licence_id=issued.licence.pk)
    unknown_key = licences.licence_key_generate()

    with CaptureQueriesContext(connection) as revoked_queries:
        revoked = service.post(VERIFY, {"key": issued.key, "device_id": "d"})
    with CaptureQueriesContext(connection) as unknown_queries:
        unknown = service.post(VERIFY, {"key": unknown_key, "device_id": "d"})

    assert revoked.status_code == unknown.status_code == 200
    revoked_body, unknown_body = revoked.json(), unknown.json()
    assert revoked_body.pop("status") == "revoked"
    assert unknown_body.pop("status") == "unknown"
    assert (
        revoked_body
        == unknown_body
        == {
            "plan": None,
            "features": {},
            "expires_at": None,
            "seats_used": None,
            "seats_allowed": None,
        }
    )

    # The same statements for both, only the hash differs: the same work.
    def shapes(ctx):
        return [
            re.sub(r'"s\d+_x\d+"', "sp", q["sql"].split("WHERE")[0])
            for q in ctx.captured_queries
        ]

    assert shapes(revoked_queries) == shapes(unknown_queries)


def test_verify_needs_a_service_key(api_client):
    api_client.force_authenticate(UserFactory())
    r = api_client.post(VERIFY, {"key": "x", "device_id": "d"}, format="json")
    assert r.status_code == 401


def test_verify_is_rate_limited_per_api_key(service, settings):
    settings.LICENCE_VERIFY_RATE = "2/m"
    body = {"key": "AAAA", "device_id": "d"}
    assert service.post(VERIFY, body).status_code == 200
    assert service.post(VERIFY, body).status_code == 200
    limited = service.post(VERIFY, body)
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert int(limited["Retry-After"]) > 0
    assert service_client("other").post(VERIFY, body).status_code == 200
