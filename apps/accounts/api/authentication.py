from rest_framework.authentication import BaseAuthentication


class AllauthJWTAuthentication(BaseAuthentication):
    """Authenticate `Authorization: Bearer <access token>` issued by allauth headless."""

    def authenticate(self, request):
        return None

    def authenticate_header(self, request):
        return 'Bearer realm="api"'
