"""Bad input is the client's error: 4xx with the error envelope, never a 500.

Every path parameter of every /api/v1/ route gets a NUL byte, a 5,000-character
value and an emoji, with every method. The NUL only reaches PostgreSQL as a
DataError, so the sweep also runs (marked ``postgres``) in the services pass.
"""

from __future__ import annotations

import json
import re
import uuid
from urllib.parse import quote

import pytest
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "patch", "delete", "head", "options")
BAD_VALUES = {"nul": "\x00", "long": "1" * 5_000, "emoji": "\N{GRINNING FACE}"}
_PARAM = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")
_PLAUSIBLE = {"uuid": lambda: str(uuid.uuid4()), "int": lambda: "1"}


def _walk(patterns, prefix=""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route


def api_routes() -> list[str]:
    """Every route under /api/v1/, as written in the URLconf."""
    return sorted(
        {r for r in _walk(get_resolver().url_patterns) if r.startswith("api/v1/")}
    )


def _cases():
    for route in api_routes():
        for target in _PARAM.finditer(route):
            for label, value in BAD_VALUES.items():
                yield pytest.param(
                    route,
                    target.group("name"),
                    value,
                    id=f"{route}:{target.group('name')}:{label}",
                )


def _url(route: str, bad_param: str, bad_value: str) -> str:
    def fill(match: re.Match) -> str:
        if match.group("name") == bad_param:
            return quote(bad_value, safe="")
        return _PLAUSIBLE.get(match.group("converter") or "str", lambda: "x")()

    return "/" + _PARAM.sub(fill, route)


def test_api_routes_are_enumerated():
    routes = api_routes()
    assert "api/v1/orders/<str:number>/" in routes
    assert "api/v1/carts/<uuid:cart_id>/coupons/<str:code>/" in routes


def _sweep(route, param, value):
    client = APIClient()
    client.force_authenticate(UserFactory())
    url = _url(route, param, value)
    for method in METHODS:
        response = getattr(client, method)(url, {}, format="json")
        assert response.status_code < 500, (method, url[:120], response.content[:300])
        if method not in ("head", "options") and response.status_code >= 400:
            assert set(response.json()["error"]) == {"code", "message", "details"}


@pytest.mark.parametrize(("route", "param", "value"), list(_cases()))
def test_api_path_parameter_bad_value_never_answers_5xx(route, param, value):
    _sweep(route, param, value)


@pytest.mark.postgres
@pytest.mark.parametrize(("route", "param", "value"), list(_cases()))
def test_api_path_parameter_bad_value_never_answers_5xx_on_postgres(
    route, param, value
):
    _sweep(route, param, value)


def test_api_nul_in_order_number_answers_client_error_envelope(api_client):
    api_client.force_authenticate(UserFactory())

    response = api_client.get("/api/v1/orders/%00/")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


def test_api_json_nested_too_deep_answers_400_parse_error(api_client):
    depth = 100_000
    body = "[" * depth + "]" * depth

    response = api_client.post(
        "/api/v1/carts/", data=body, content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1_000)
def test_api_body_over_upload_limit_answers_413_request_too_large(api_client):
    body = json.dumps({"currency": "USD", "padding": "x" * 2_000})

    response = api_client.post(
        "/api/v1/carts/", data=body, content_type="application/json"
    )

    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "request_too_large"
    assert set(error) == {"code", "message", "details"}


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1_000)
def test_page_body_over_upload_limit_answers_the_400_page():
    response = Client().post("/cart/add/", {"padding": "x" * 2_000})

    assert response.status_code == 400
    assert b"could not be understood" in response.content


def test_api_unknown_route_answers_json_404_envelope(api_client):
    response = api_client.get("/api/v1/no-such-thing/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "not_found"


def test_headless_json_nested_too_deep_answers_400_parse_error():
    depth = 100_000
    body = "[" * depth + "]" * depth

    response = Client().post(
        "/_allauth/app/v1/auth/login", data=body, content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


def test_page_nul_in_query_value_answers_the_400_page():
    response = Client().get("/products/?q=%00")

    assert response.status_code == 400
    assert b"could not be understood" in response.content
