"""Service API keys: a valid key gets in, a missing, wrong, revoked or expired
key gets 401 with a stable code, and the answer names the caller."""

from datetime import timedelta

import pytest
from django.urls import path
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView
from rest_framework_api_key.models import APIKey

from apps.core.api.service_keys import HasServiceAPIKey, ServiceKeyAuthentication

pytestmark = pytest.mark.django_db


class WhoAmI(APIView):
    authentication_classes = [ServiceKeyAuthentication]
    permission_classes = [HasServiceAPIKey]

    def get(self, request):
        return Response({"service": request.auth.name})


urlpatterns = [path("whoami/", WhoAmI.as_view())]


@pytest.fixture
def client(settings):
    settings.ROOT_URLCONF = __name__
    return APIClient()


def test_valid_key_reaches_the_view(client, django_assert_max_num_queries):
    _, raw = APIKey.objects.create_key(name="vpn-gateway")
    with django_assert_max_num_queries(1):
        r = client.get("/whoami/", HTTP_AUTHORIZATION=f"Api-Key {raw}")
    assert r.status_code == 200
    assert r.json() == {"service": "vpn-gateway"}


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("", "not_authenticated"),
        ("Bearer abc", "not_authenticated"),
        ("Api-Key nope.nope", "authentication_failed"),
    ],
)
def test_missing_or_wrong_key_is_401_with_a_stable_code(client, header, code):
    r = client.get("/whoami/", HTTP_AUTHORIZATION=header)
    assert r.status_code == 401
    assert r["WWW-Authenticate"] == "Api-Key"
    assert r.json()["error"]["code"] == code


def test_revoked_and_expired_keys_are_refused(client):
    revoked, revoked_raw = APIKey.objects.create_key(name="old")
    revoked.revoked = True
    revoked.save()
    _, expired_raw = APIKey.objects.create_key(
        name="temp", expiry_date=timezone.now() - timedelta(minutes=1)
    )
    for raw in (revoked_raw, expired_raw):
        r = client.get("/whoami/", HTTP_AUTHORIZATION=f"Api-Key {raw}")
        assert r.status_code == 401, raw
        assert r.json()["error"]["code"] == "authentication_failed"
