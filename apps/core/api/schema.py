"""OpenAPI plumbing for core's API conventions (imported in CoreConfig.ready).

Every error response an operation can give is generated, never hand-written:
the view method declares the ``ApplicationError`` classes it raises with
``@raises(...)`` (``@idempotent`` adds its own), and ``ShopAutoSchema`` adds
the errors every operation of its kind can meet (bad input, authentication,
CSRF, rate limits). Each is the ``ErrorEnvelope`` component with ``code``
narrowed to the enum of codes those classes carry, so the schema and the code
cannot drift apart.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.permissions import AllowAny

from apps.core.bad_input import NUL_IN_REQUEST, TOO_DEEP, TOO_LARGE
from apps.core.exceptions import ApplicationError

ENVELOPE_COMPONENT = "ErrorEnvelope"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_STATUS_TEXT = {
    400: "Bad request",
    401: "Not authenticated",
    402: "Payment required",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Unprocessable request",
    429: "Too many requests",
    501: "Not implemented by the configured Stripe server",
    502: "The payment provider refused the request",
}

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "Replay-safe retries (at most 255 characters, kept 24 hours): the same "
        "key and body replay the first response (header Idempotent-Replayed); "
        "the same key with another body is 422 idempotency_key_reused."
    ),
)


def raises(*error_classes: type[ApplicationError]) -> Callable:
    """Declare the application errors an API view method can answer with.

    The schema lists each class's codes under its status; declare the class a
    service raises, not its base, so the codes stay exact.
    """

    def decorate(method: Callable) -> Callable:
        method.api_errors = (*getattr(method, "api_errors", ()), *error_classes)  # type: ignore[attr-defined]  # a marker on a function
        return method

    return decorate


def _envelope_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "Every error the API answers: one envelope.",
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    "code": {
                        "type": "string",
                        "description": "Stable snake_case code; "
                        "the operation lists the ones it can answer.",
                    },
                    "message": {"type": "string"},
                    "details": {"type": "object", "additionalProperties": True},
                },
                "required": ["code", "message", "details"],
            }
        },
        "required": ["error"],
    }


class ShopAutoSchema(AutoSchema):
    """AutoSchema with generated error responses and the Idempotency-Key header."""

    def _view_method(self) -> Any:
        return getattr(self.view, self.method.lower(), None)

    def _honours_idempotency_key(self) -> bool:
        return bool(getattr(self._view_method(), "honours_idempotency_key", False))

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        declared = {
            p.name.lower() for p in parameters if isinstance(p, OpenApiParameter)
        }
        if self._honours_idempotency_key() and "idempotency-key" not in declared:
            parameters.append(IDEMPOTENCY_KEY)
        return parameters

    def error_codes(self) -> dict[int, set[str]]:
        """Return {status: codes} for every error this operation can answer."""
        codes: dict[int, set[str]] = defaultdict(set)
        # Refused before any view runs (BadInputMiddleware), or by DRF.
        codes[NUL_IN_REQUEST.status].add(NUL_IN_REQUEST.code)
        codes[401].add("authentication_failed")  # a bad or expired token
        codes[429].add("rate_limited")
        if self.method in UNSAFE_METHODS:
            codes[400] |= {"validation_error", TOO_DEEP.code, "parse_error"}
            codes[TOO_LARGE.status].add(TOO_LARGE.code)
            codes[415].add("unsupported_media_type")
            codes[403].add("permission_denied")  # CSRF for session clients
        if self._requires_authentication():
            codes[401].add("not_authenticated")
        if "{" in self.path:
            codes[404].add("not_found")  # a value no route or row matches
        for error_class in self._declared_errors():
            codes[error_class.status_code].update(error_class.api_codes())
        return codes

    def _declared_errors(self) -> Iterable[type[ApplicationError]]:
        return getattr(self._view_method(), "api_errors", ())

    def _requires_authentication(self) -> bool:
        return any(
            not isinstance(permission, AllowAny)
            for permission in self.view.get_permissions()
        )

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        envelope = ResolvedComponent(
            name=ENVELOPE_COMPONENT,
            type=ResolvedComponent.SCHEMA,
            object=ENVELOPE_COMPONENT,
            schema=_envelope_schema(),
        )
        self.registry.register_on_missing(envelope)
        for status, codes in sorted(self.error_codes().items()):
            responses[str(status)] = self._error_response(status, codes, envelope)
        return responses

    def _error_response(
        self, status: int, codes: set[str], envelope: ResolvedComponent
    ) -> dict[str, Any]:
        narrowed = {
            "allOf": [
                envelope.ref,
                {
                    "type": "object",
                    "properties": {
                        "error": {
                            "type": "object",
                            "properties": {
                                "code": {"type": "string", "enum": sorted(codes)}
                            },
                        }
                    },
                },
            ]
        }
        response: dict[str, Any] = {
            "description": f"{_STATUS_TEXT.get(status, 'Error')}: "
            + ", ".join(sorted(codes)),
            "content": {"application/json": {"schema": narrowed}},
        }
        if status == 429:
            response["headers"] = {
                "Retry-After": {
                    "schema": {"type": "integer"},
                    "description": "Seconds until the limit's window ends.",
                }
            }
        return response


class CsrfSessionAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "apps.core.api.authentication.CsrfSessionAuthentication"
    name = "sessionAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}


class ServiceKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "apps.core.api.service_keys.ServiceKeyAuthentication"
    name = "serviceApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "A service key from admin: `Api-Key <prefix>.<secret>`.",
        }
