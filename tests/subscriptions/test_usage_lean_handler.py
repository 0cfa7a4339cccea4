"""The usage API through the lean handler that serves it (config/wsgi.py):
each answer as the full middleware stack gives it, headers included."""

import pytest
from django.test import Client
from django.test.client import ClientHandler

from apps.core.lean_handler import LeanMiddlewareMixin, lean_middleware
from tests.accounts.factories import UserFactory, app_access_token
from tests.subscriptions.usage_helpers import subscriber

pytestmark = pytest.mark.django_db

URL = "/api/v1/usage/"


class LeanClientHandler(LeanMiddlewareMixin, ClientHandler):
    pass


def lean_client(**kw) -> Client:
    client = Client(**kw)
    client.handler = LeanClientHandler(kw.get("enforce_csrf_checks", False))
    return client


@pytest.fixture
def clients():
    return {"full": Client(), "lean": lean_client()}


@pytest.fixture
def token(basic_plan, time_machine):
    time_machine.move_to("2026-03-10T15:00:00Z", tick=False)
    user = UserFactory(verified_email=True)
    subscriber(basic_plan, user=user)
    return app_access_token(user)


def post(client, body, token=None, **extra):
    if token:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client.post(URL, body, content_type="application/json", **extra)


def event(key, quantity=1):
    return {"metric": "api_calls", "quantity": quantity, "idempotency_key": key}


def same_answer(full, lean):
    """Status, body and header names alike (X-Request-ID's value differs)."""
    assert lean.status_code == full.status_code
    assert lean.content == full.content
    assert set(lean.headers) == set(full.headers)
    for name, value in full.headers.items():
        if name != "X-Request-ID":
            assert lean.headers[name] == value, name


def test_lean_stack_leaves_out_only_the_listed_middlewares(settings):
    LeanClientHandler().load_middleware()

    assert lean_middleware() == [
        m for m in settings.MIDDLEWARE if m not in settings.LEAN_API_SKIPPED_MIDDLEWARE
    ]
    assert "django.middleware.security.SecurityMiddleware" in lean_middleware()
    assert "apps.core.csp.CSPMiddleware" in lean_middleware()
    # The full stack is left as it was.
    assert "django.middleware.csrf.CsrfViewMiddleware" in settings.MIDDLEWARE


def test_a_skipped_middleware_missing_from_middleware_fails_at_start(settings):
    settings.LEAN_API_SKIPPED_MIDDLEWARE = ["apps.nowhere.Middleware"]
    full = list(settings.MIDDLEWARE)

    with pytest.raises(ValueError, match="nowhere"):
        LeanClientHandler().load_middleware()

    assert list(settings.MIDDLEWARE) == full


def test_recorded_event_answers_alike_with_every_security_header(clients, token):
    full = post(clients["full"], event("a"), token)
    lean = post(clients["lean"], event("b"), token)

    assert full.status_code == 201
    assert lean.json()["usage"][0]["used"] == 2
    assert set(lean.headers) == set(full.headers)
    for header in (
        "Content-Security-Policy",
        "X-Frame-Options",
        "X-Content-Type-Options",
        "Referrer-Policy",
        "Cross-Origin-Opener-Policy",
        "X-Request-ID",
    ):
        assert lean.headers[header]


def test_request_id_is_echoed(clients, token):
    lean = post(clients["lean"], event("a"), token, HTTP_X_REQUEST_ID="rid-lean-12345")

    assert lean["X-Request-ID"] == "rid-lean-12345"


@pytest.mark.parametrize(
    ("body", "auth"),
    [
        (event("a"), None),
        (event("a"), "not-a-jwt"),
        ({"metric": "api calls", "quantity": 0}, "token"),
        (event("a", quantity=11), "token"),
        ({**event("a"), "metric": "nope"}, "token"),
    ],
    ids=["no-token", "bad-token", "bad-input", "over-limit", "not-in-plan"],
)
def test_refusals_answer_alike(clients, token, body, auth):
    auth = token if auth == "token" else auth
    full = post(clients["full"], body, auth)
    lean = post(clients["lean"], body, auth)

    assert full.status_code in (400, 401, 403, 429)
    assert set(full.json()["error"]) == {"code", "message", "details"}
    same_answer(full, lean)
    if full.status_code == 429:
        assert lean["Retry-After"] == full["Retry-After"]
        assert lean.json()["error"]["code"] == "usage_limit_exceeded"


def test_nul_in_query_is_refused_before_any_view(clients, token):
    full = post(clients["full"], event("a"), token, QUERY_STRING="x=%00")
    lean = post(clients["lean"], event("a"), token, QUERY_STRING="x=%00")

    assert full.status_code == 400
    same_answer(full, lean)


def test_session_caller_still_needs_the_csrf_token(basic_plan):
    user = subscriber(basic_plan, user=UserFactory(verified_email=True))
    client = lean_client(enforce_csrf_checks=True)
    client.force_login(user)

    refused = post(client, event("a"))
    client.cookies["csrftoken"] = secret = "k" * 32
    accepted = post(client, event("a"), HTTP_X_CSRFTOKEN=secret)

    assert refused.status_code == 403
    assert accepted.status_code == 201, accepted.content
