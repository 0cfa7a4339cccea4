"""OpenAPI description of the mobile token (imported by AccountsConfig.ready)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object


class AllauthJWTScheme(OpenApiAuthenticationExtension):
    target_class = "apps.accounts.api.authentication.AllauthJWTAuthentication"
    name = "jwtAuth"
    priority = 1  # above drf-spectacular's generic TokenAuthentication match

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="AUTHORIZATION",
            token_prefix="Bearer",  # noqa: S106 (a scheme name, not a secret)
            bearer_format="JWT",
        )
