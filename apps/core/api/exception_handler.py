"""One error envelope for everything under /api/:

{"error": {"code": "...", "message": "...", "details": {...}}}
"""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_default_handler

from apps.core.bad_input import bad_input_for
from apps.core.exceptions import ApplicationError
from apps.core.logging import get_request_id

logger = logging.getLogger("apps.api")

_DRF_CODES = {
    drf.NotAuthenticated: "not_authenticated",
    drf.AuthenticationFailed: "authentication_failed",
    drf.PermissionDenied: "permission_denied",
    drf.NotFound: "not_found",
    drf.MethodNotAllowed: "method_not_allowed",
    drf.NotAcceptable: "not_acceptable",
    drf.UnsupportedMediaType: "unsupported_media_type",
    drf.Throttled: "rate_limited",
    drf.ParseError: "parse_error",
}


def error_body(code: str, message: str, details: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _drf_code(exc: drf.APIException) -> str:
    for cls, code in _DRF_CODES.items():
        if isinstance(exc, cls):
            return code
    return exc.default_code if isinstance(exc.default_code, str) else "error"


def api_exception_handler(exc, context):
    bad_input = bad_input_for(exc)
    if bad_input is not None:
        return Response(
            error_body(bad_input.code, bad_input.message), status=bad_input.status
        )
    if isinstance(exc, ApplicationError):
        return Response(
            error_body(exc.code, exc.message, exc.details), status=exc.status_code
        )
    if isinstance(exc, DjangoValidationError):
        exc = drf.ValidationError(
            detail=exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        )
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()

    response = drf_default_handler(exc, context)
    if response is None:
        logger.exception(
            "unhandled API error (request id %s)", get_request_id(), exc_info=exc
        )
        return Response(
            error_body(
                "server_error",
                "Something went wrong on our side. Quote the request id to support.",
                {"request_id": get_request_id()},
            ),
            status=500,
        )

    if isinstance(exc, drf.ValidationError):
        fields = (
            exc.detail
            if isinstance(exc.detail, dict)
            else {"non_field_errors": exc.detail}
        )
        response.data = error_body(
            "validation_error", "The request is not valid.", {"fields": fields}
        )
    else:
        detail = exc.detail if isinstance(exc, drf.APIException) else str(exc)
        message = (
            str(detail) if not isinstance(detail, (list, dict)) else "Request failed."
        )
        details = {}
        if isinstance(exc, drf.Throttled):
            wait = exc.wait  # type: ignore[attr-defined]  # stubs omit it; __init__ sets it
            if wait is not None:
                details["retry_after"] = int(wait)
        response.data = error_body(_drf_code(exc), message, details)
    return response
