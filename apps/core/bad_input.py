"""Input the client got wrong before any serializer saw it: one mapping.

The DRF exception handler (API views) and ``BadInputMiddleware`` (everything
else, allauth's headless views included) both answer from here, so a NUL byte,
JSON nested past Python's recursion limit and an oversize body get the same
status and code everywhere. Pages get the 400 page for all of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest


@dataclass(frozen=True, slots=True)
class BadInput:
    status: int
    code: str
    message: str


NUL_IN_REQUEST = BadInput(400, "bad_request", "The request contains a NUL byte.")
TOO_DEEP = BadInput(400, "parse_error", "The JSON body is nested too deeply.")
TOO_LARGE = BadInput(413, "request_too_large", "The request body is too large.")


def bad_input_for(exc: BaseException) -> BadInput | None:
    """Return how to answer ``exc`` when it is the client's bad input, else None."""
    if isinstance(exc, RequestDataTooBig):
        return TOO_LARGE
    # Only the JSON decoder's own overflow: any other RecursionError is a bug
    # and stays a 500.
    if isinstance(exc, RecursionError) and "JSON" in str(exc):
        return TOO_DEEP
    return None


def request_has_nul(request: HttpRequest) -> bool:
    """Return True when the path or a query value holds a NUL byte.

    PostgreSQL cannot store or compare text with NUL (psycopg raises
    DataError), so such a value must never reach a lookup.
    """
    if "\x00" in request.path_info:
        return True
    return any(
        "\x00" in key or any("\x00" in value for value in values)
        for key, values in request.GET.lists()
    )
