"""django-csp's middleware, with the settings' policy text built once.

django-csp 4 builds the Content-Security-Policy header from settings on every
response: a deep copy of the per-response parts, a copy of each of ~30
directives, then the join. Unless a view changed the policy for its response
(django-csp's decorators set ``_csp_*`` attributes on it) or the response used
the nonce, that text depends on the settings alone; building it was 5 % of a
usage-ingest event's web instructions (6.43 -> 6.11 M under callgrind without
the middleware, issue 14). Such responses get the text django-csp's own
``build_policy`` returned the first time, kept until a CSP setting changes;
every other response goes through django-csp unchanged.
"""

from __future__ import annotations

import http.client
from typing import Any

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject
from csp.middleware import CSPMiddleware as BaseCSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponseBase

# (header, setting): the enforced policy, then the report-only one.
_POLICIES = (
    (HEADER, "CONTENT_SECURITY_POLICY"),
    (HEADER_REPORT_ONLY, "CONTENT_SECURITY_POLICY_REPORT_ONLY"),
)
# {setting: (header text, excluded path prefixes)}, filled on first use.
_built: dict[str, tuple[str, tuple[str, ...]]] = {}


@receiver(setting_changed)
def _forget_built(*, setting: str, **kwargs: Any) -> None:
    if setting in {name for _, name in _POLICIES}:
        _built.clear()


def _settings_policy(setting: str) -> tuple[str, tuple[str, ...]]:
    built = _built.get(setting)
    if built is None:
        policy = getattr(settings, setting, None) or {}
        text = build_policy(report_only=setting != "CONTENT_SECURITY_POLICY")
        built = _built[setting] = (
            text,
            tuple(policy.get("EXCLUDE_URL_PREFIXES") or ()),
        )
    return built


def _policy_is_the_settings(request: HttpRequest, response: HttpResponseBase) -> bool:
    """Whether django-csp would build the header from the settings alone: no
    nonce used, and no ``_csp_*`` attribute (decorator) on the response. Any
    such attribute, known today or added by a later django-csp, goes to it."""
    if getattr(request, "_csp_nonce", None) is not None:
        return False
    return not any(name.startswith("_csp") for name in vars(response))


class CSPMiddleware(BaseCSPMiddleware):
    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if not _policy_is_the_settings(request, response):
            return super().process_response(request, response)
        # From here on as django-csp's process_response for such a response.
        if settings.DEBUG and response.status_code in (
            http.client.INTERNAL_SERVER_ERROR,
            http.client.NOT_FOUND,
        ):
            return response
        for header, setting in _POLICIES:
            text, excluded = _settings_policy(setting)
            if (
                text
                and header not in response
                and not request.path_info.startswith(excluded)
            ):
                response[header] = text
        # The nonce can no longer reach the header: using it now is an error.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)  # type: ignore[attr-defined]  # django-csp sets it on every request
        return response
