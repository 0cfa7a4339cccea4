import logging
import re
import uuid

from django.http import HttpRequest, HttpResponse, JsonResponse

from apps.core import views
from apps.core.api.exception_handler import error_body
from apps.core.bad_input import NUL_IN_REQUEST, BadInput, bad_input_for, request_has_nul
from apps.core.logging import set_request_id

logger = logging.getLogger(__name__)

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdMiddleware:
    """Tag each request (and its log lines) with X-Request-ID, echoed back."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        # Cleared on request_finished (apps.core.logging), not here: Django
        # logs 4xx/5xx responses ("django.request") after the middlewares
        # return, and that line belongs to the request too.
        set_request_id(request_id)
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


class BadInputMiddleware:
    """Answer malformed input with 4xx before or instead of a 500.

    A NUL byte in the path or query is refused before any view (or lookup)
    runs; a too-deep JSON body or an oversize body raised by a non-DRF view
    (DRF views go through the API exception handler) gets the same answer.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request_has_nul(request):
            return bad_input_response(request, NUL_IN_REQUEST)
        return self.get_response(request)

    def process_exception(self, request, exception):
        bad_input = bad_input_for(exception)
        if bad_input is None:
            return None
        return bad_input_response(request, bad_input)


def bad_input_response(request: HttpRequest, bad_input: BadInput) -> HttpResponse:
    """The error envelope under /api/ and /_allauth/, the 400 page elsewhere."""
    logger.info("bad input on %r: %s", request.path[:200], bad_input.code)
    if views.is_api_request(request):
        return JsonResponse(
            error_body(bad_input.code, bad_input.message), status=bad_input.status
        )
    return views.bad_request(request)
