from rest_framework.authentication import SessionAuthentication


class CsrfSessionAuthentication(SessionAuthentication):
    """Browser JS: the Django session with CSRF enforced on unsafe methods."""
