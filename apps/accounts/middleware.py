import json

from django.http import HttpRequest, HttpResponse

from apps.accounts.adapter import RETRY_AFTER_ATTR
from apps.core.api.exception_handler import error_body

DEFAULT_RETRY_AFTER = 60
_MESSAGE = "Too many attempts. Try again later."


class AllauthRateLimitMiddleware:
    """Make allauth headless rate limits look like ours.

    allauth answers a throttled headless call with its own JSON and no
    `Retry-After`; a login refused for too many failed passwords is even a
    400 with code `too_many_login_attempts`. Under /_allauth/ both become 429
    with `Retry-After`, keeping allauth's body (its SDKs read `status` and
    `errors`) and adding our `error` envelope next to it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith("/_allauth/"):
            return response
        if response.status_code not in (400, 429):
            return response
        if response.get("Content-Type", "").split(";")[0] != "application/json":
            return response
        try:
            body = json.loads(response.content)
        except ValueError:
            return response
        if response.status_code == 400:
            codes = {e.get("code") for e in body.get("errors", [])}
            if "too_many_login_attempts" not in codes:
                return response
        retry_after = getattr(request, RETRY_AFTER_ATTR, None) or DEFAULT_RETRY_AFTER
        body["status"] = 429
        messages = [
            e.get("message") for e in body.get("errors", []) if e.get("message")
        ]
        body.update(
            error_body(
                "rate_limited",
                messages[0] if messages else _MESSAGE,
                {"retry_after": retry_after},
            )
        )
        response.status_code = 429
        response.reason_phrase = "Too Many Requests"
        response.content = json.dumps(body)
        response["Retry-After"] = str(retry_after)
        return response
