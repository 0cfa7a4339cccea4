"""The mobile app's account flows through allauth headless (`app` client, JWT)."""

import re
from urllib.parse import unquote

import pytest
from django.core import mail

pytestmark = pytest.mark.django_db

from tests.accounts.factories import PASSWORD, UserFactory  # noqa: E402

APP = "/_allauth/app/v1"


def _signup(client, email="new@example.com", password=PASSWORD):
    return client.post(
        f"{APP}/auth/signup",
        {"email": email, "password": password},
        content_type="application/json",
    )


def _login(client, email, password=PASSWORD, **extra):
    return client.post(
        f"{APP}/auth/login",
        {"email": email, "password": password},
        content_type="application/json",
        **extra,
    )


def _verification_key(body: str) -> str:
    match = re.search(r"/accounts/confirm-email/([^/\s]+)/", body)
    assert match, body
    return unquote(match.group(1))


def test_headless_signup_mails_verification_then_the_key_returns_tokens(
    client, django_capture_on_commit_callbacks
):
    # Also the regression test for AccountsConfig.ready(): without the
    # cryptography import allauth 65.21.1's JWT strategy answers 500 here.
    with django_capture_on_commit_callbacks(execute=True):
        response = _signup(client)

    # Not signed in until the address is confirmed (enumeration prevention:
    # a registered address gets this very answer).
    assert response.status_code == 401, response.content
    body = response.json()
    assert {"id": "verify_email", "is_pending": True} in body["data"]["flows"]
    assert "access_token" not in body["meta"]
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["new@example.com"]
    assert "/accounts/confirm-email/" in mail.outbox[0].body

    verified = client.post(
        f"{APP}/auth/email/verify",
        {"key": _verification_key(mail.outbox[0].body)},
        content_type="application/json",
        HTTP_X_SESSION_TOKEN=body["meta"]["session_token"],
    )

    assert verified.status_code == 200, verified.content
    assert verified.json()["data"]["user"]["email"] == "new@example.com"
    assert verified.json()["meta"]["access_token"]
    assert verified.json()["meta"]["refresh_token"]


def test_headless_login_returns_access_token_accepted_by_me_api(client, api_client):
    user = UserFactory(verified_email=True, email="shopper@example.com", name="Grace")

    response = _login(client, user.email)

    assert response.status_code == 200, response.content
    token = response.json()["meta"]["access_token"]
    me = api_client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert me.status_code == 200
    assert me.json() == {"id": user.pk, "email": "shopper@example.com", "name": "Grace"}


def test_headless_signup_then_verify_then_login_then_me_with_token(
    client, api_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert _signup(client, email="flow@example.com").status_code == 401
    # Confirmed on the web page the mail links to.
    page = client.post(
        f"/accounts/confirm-email/{_verification_key(mail.outbox[0].body)}/"
    )
    assert page.status_code == 302
    client.logout()

    response = _login(client, "flow@example.com")

    assert response.status_code == 200, response.content
    token = response.json()["meta"]["access_token"]
    me = api_client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert me.status_code == 200
    assert me.json()["email"] == "flow@example.com"


def test_me_api_without_token_returns_401_envelope_with_www_authenticate(api_client):
    response = api_client.get("/api/v1/me/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["error"]["code"] == "not_authenticated"
    assert set(response.json()["error"]) == {"code", "message", "details"}


def test_me_api_with_garbage_token_returns_401(api_client):
    response = api_client.get("/api/v1/me/", HTTP_AUTHORIZATION="Bearer not-a-jwt")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_me_api_with_refresh_token_as_access_token_returns_401(client, api_client):
    user = UserFactory(verified_email=True)
    refresh = _login(client, user.email).json()["meta"]["refresh_token"]

    response = api_client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {refresh}")

    assert response.status_code == 401


def test_me_api_token_of_deactivated_user_returns_401(client, api_client):
    user = UserFactory(verified_email=True)
    token = _login(client, user.email).json()["meta"]["access_token"]
    user.is_active = False
    user.save(update_fields=["is_active"])

    response = api_client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 401


def test_token_refresh_returns_new_access_token_that_works(client, api_client):
    user = UserFactory(verified_email=True)
    tokens = _login(client, user.email).json()["meta"]

    response = client.post(
        f"{APP}/tokens/refresh",
        {"refresh_token": tokens["refresh_token"]},
        content_type="application/json",
    )

    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert data["access_token"] != tokens["access_token"]
    assert data["refresh_token"] != tokens["refresh_token"]  # rotated
    me = api_client.get(
        "/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {data['access_token']}"
    )
    assert me.status_code == 200
    assert me.json()["email"] == user.email


def test_token_refresh_with_used_refresh_token_is_refused(client):
    user = UserFactory(verified_email=True)
    refresh = _login(client, user.email).json()["meta"]["refresh_token"]
    first = client.post(
        f"{APP}/tokens/refresh",
        {"refresh_token": refresh},
        content_type="application/json",
    )
    assert first.status_code == 200

    again = client.post(
        f"{APP}/tokens/refresh",
        {"refresh_token": refresh},
        content_type="application/json",
    )

    assert again.status_code == 400


def test_headless_logout_ends_session_and_refresh_token(client):
    user = UserFactory(verified_email=True)
    meta = _login(client, user.email).json()["meta"]

    response = client.delete(
        f"{APP}/auth/session", HTTP_X_SESSION_TOKEN=meta["session_token"]
    )

    assert response.status_code == 401  # allauth: "not authenticated" afterwards
    session = client.get(
        f"{APP}/auth/session", HTTP_X_SESSION_TOKEN=meta["session_token"]
    )
    assert session.status_code == 410  # the session token is gone
    refresh = client.post(
        f"{APP}/tokens/refresh",
        {"refresh_token": meta["refresh_token"]},
        content_type="application/json",
    )
    assert refresh.status_code == 400


def test_headless_logout_with_access_token_revokes_that_token_at_once(
    client, api_client
):
    user = UserFactory(verified_email=True)
    token = _login(client, user.email).json()["meta"]["access_token"]
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert api_client.get("/api/v1/me/", **bearer).status_code == 200

    logout = client.delete(f"{APP}/auth/session", **bearer)

    assert logout.status_code == 401
    me = api_client.get("/api/v1/me/", **bearer)
    assert me.status_code == 401
    assert me.json()["error"]["code"] == "authentication_failed"


def test_password_change_elsewhere_revokes_outstanding_access_tokens(
    client, api_client
):
    user = UserFactory(verified_email=True)
    token = _login(client, user.email).json()["meta"]["access_token"]
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert api_client.get("/api/v1/me/", **bearer).status_code == 200

    user.set_password("another-Secret-99")  # e.g. reset from the web page
    user.save()

    assert api_client.get("/api/v1/me/", **bearer).status_code == 401


def test_headless_password_reset_request_sends_mail(
    client, django_capture_on_commit_callbacks
):
    user = UserFactory(verified_email=True, email="forgot@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"{APP}/auth/password/request",
            {"email": user.email},
            content_type="application/json",
        )

    assert response.status_code == 200, response.content
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["forgot@example.com"]
    assert "/accounts/password/reset/key/" in mail.outbox[0].body


def test_headless_login_by_code_signs_in_with_mailed_code(
    client, api_client, django_capture_on_commit_callbacks
):
    user = UserFactory(verified_email=True, email="coder@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        requested = client.post(
            f"{APP}/auth/code/request",
            {"email": user.email},
            content_type="application/json",
        )
    assert requested.status_code == 401  # pending flow: "login_by_code"
    assert requested.json()["data"]["flows"]
    session_token = requested.json()["meta"]["session_token"]
    assert len(mail.outbox) == 1
    code = _code_from(mail.outbox[0].body)

    confirmed = client.post(
        f"{APP}/auth/code/confirm",
        {"code": code},
        content_type="application/json",
        HTTP_X_SESSION_TOKEN=session_token,
    )

    assert confirmed.status_code == 200, confirmed.content
    token = confirmed.json()["meta"]["access_token"]
    me = api_client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert me.json()["email"] == "coder@example.com"


def _code_from(body: str) -> str:
    lines = [line.strip() for line in body.splitlines()]
    # allauth's mail puts the code alone on a line after the instructions.
    candidates = [line for line in lines if line and " " not in line and "-" in line]
    assert candidates, body
    return candidates[0]


def test_headless_sixth_wrong_password_is_throttled_with_retry_after(client):
    user = UserFactory(verified_email=True, email="target@example.com")

    statuses = [
        _login(client, user.email, password="wrong-password").status_code
        for _ in range(5)
    ]
    sixth = _login(client, user.email, password="wrong-password")

    assert statuses == [400] * 5
    assert sixth.status_code == 429
    retry_after = int(sixth["Retry-After"])
    assert 240 <= retry_after <= 300  # the 5-minute window, minus elapsed time
    body = sixth.json()
    assert body["status"] == 429
    assert body["errors"][0]["code"] == "too_many_login_attempts"
    assert body["error"]["code"] == "rate_limited"
    assert body["error"]["details"]["retry_after"] == retry_after


def test_headless_throttle_also_refuses_the_right_password(client):
    user = UserFactory(verified_email=True)
    for _ in range(5):
        _login(client, user.email, password="wrong-password")

    response = _login(client, user.email)

    assert response.status_code == 429
    assert "access_token" not in response.json().get("meta", {})


def test_headless_throttle_is_per_account(client):
    victim = UserFactory(verified_email=True)
    other = UserFactory(verified_email=True)
    for _ in range(6):
        _login(client, victim.email, password="wrong-password")

    response = _login(client, other.email)

    assert response.status_code == 200


def test_headless_signups_past_the_per_ip_rate_are_throttled_and_write_nothing(
    client,
):
    from apps.accounts.models import User

    statuses = [
        _signup(client, email=f"bulk{n}@example.com").status_code for n in range(20)
    ]
    refused = _signup(client, email="one-too-many@example.com")

    assert statuses == [401] * 20  # each awaits its address's confirmation
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert refused.json()["error"]["code"] == "rate_limited"
    assert not User.objects.filter(email="one-too-many@example.com").exists()


def test_jwt_strategy_finds_cryptography_when_the_key_comes_from_the_environment():
    """The guard in AccountsConfig.ready(), where nothing else imports it.

    In the test process the development key generator imports cryptography's
    serialization module already, so the signup test above would pass without
    the guard; a deploy reads HEADLESS_JWT_PRIVATE_KEY from the environment
    instead, and there allauth's lazy lookup of that module answers 500.
    """
    from tests.core.test_production import _production_environ, _run_python

    out = _run_python(
        "import sys, django; django.setup()\n"
        "print('cryptography.hazmat.primitives.serialization' in sys.modules)",
        _production_environ(),
    )

    assert out == "True"
