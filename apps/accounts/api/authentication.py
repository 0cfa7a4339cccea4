from allauth.headless.contrib.rest_framework.authentication import (
    JWTTokenAuthentication,
)
from django.core.exceptions import ObjectDoesNotExist
from rest_framework.exceptions import AuthenticationFailed


class AllauthJWTAuthentication(JWTTokenAuthentication):
    """Authenticate `Authorization: Bearer <access token>` from allauth headless.

    allauth's own DRF class validates the JWT (signature, expiry, token use).
    This subclass also refuses deactivated users, and its
    `authenticate_header` makes DRF answer unauthenticated requests with 401
    and `WWW-Authenticate: Bearer` rather than 403.
    """

    def authenticate_credentials(self, key: str):
        user, payload = super().authenticate_credentials(key)
        try:
            is_active = user.is_active  # loads the lazy user
        except ObjectDoesNotExist:
            is_active = False
        if not is_active:
            raise AuthenticationFailed("User inactive or deleted.")
        return user, payload

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="api"'
