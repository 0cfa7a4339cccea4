"""Service API keys: how another system (the VPN service that verifies licence
keys, a metering pipeline posting usage batches) calls the API.

Keys come from djangorestframework-api-key: staff create and revoke them in
admin, only a hash is stored, and the full key is shown once. A service sends
``Authorization: Api-Key <prefix>.<secret>``. A service endpoint sets

    authentication_classes = [ServiceKeyAuthentication]
    permission_classes = [HasServiceAPIKey]

and reads the caller as ``request.auth`` (an ``APIKey``; its ``prefix`` is
what rate limits count per caller).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework_api_key.models import AbstractAPIKey, APIKey
from rest_framework_api_key.permissions import KeyParser

KEYWORD = KeyParser.keyword


class ServiceKeyAuthentication(BaseAuthentication):
    """Authenticate a service by its API key; the user stays anonymous.

    No ``Api-Key`` header: not this scheme (None). A header with a key that is
    unknown, revoked or expired: 401 ``authentication_failed``.
    """

    def authenticate(self, request: Any) -> tuple[AnonymousUser, AbstractAPIKey] | None:
        raw = KeyParser().get(request)
        if not raw:
            return None
        try:
            key = APIKey.objects.get_from_key(raw)
        except APIKey.DoesNotExist:
            key = None
        if key is None or key.has_expired:
            raise exceptions.AuthenticationFailed("This API key is not valid.")
        return AnonymousUser(), key

    def authenticate_header(self, request: Any) -> str:
        # Makes DRF answer 401 (with WWW-Authenticate), not 403, without a key.
        return KEYWORD


class HasServiceAPIKey(BasePermission):
    message = f"Send a service API key: Authorization: {KEYWORD} <key>."

    def has_permission(self, request: Any, view: Any) -> bool:
        if isinstance(request.auth, APIKey):
            return True
        raise exceptions.NotAuthenticated(self.message)
