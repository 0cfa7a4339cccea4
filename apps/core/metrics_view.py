"""``/metrics`` for Prometheus, refused unless the scraper is allowed.

A scraper is allowed by a bearer token (``METRICS_BEARER_TOKEN``) or by its
address (``METRICS_ALLOWED_IPS``, addresses or networks). With neither set
every scrape is refused: metrics show traffic and revenue figures.
"""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from apps.core.api.exception_handler import error_body
from apps.core.clients import client_ip
from apps.core.metrics import metrics_registry


def _token_ok(request: HttpRequest) -> bool:
    expected = settings.METRICS_BEARER_TOKEN
    if not expected:
        return False
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), expected.encode()
    )


def _address_ok(request: HttpRequest) -> bool:
    allowed = settings.METRICS_ALLOWED_IPS
    address = client_ip(request)
    if not allowed or not address:
        return False
    ip = ipaddress.ip_address(address)
    return any(ip in ipaddress.ip_network(net, strict=False) for net in allowed)


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    if not (_token_ok(request) or _address_ok(request)):
        response = JsonResponse(
            error_body("permission_denied", "Metrics need a token."), status=403
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(
        generate_latest(metrics_registry()), content_type=CONTENT_TYPE_LATEST
    )
