"""One test per row of the errors-to-HTTP table (CONVENTIONS.md §5)."""

import pytest

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.core.urls_errors")]


def _error(response):
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    return body["error"]


def test_validation_error_returns_400_with_field_details(api_client):
    response = api_client.post("/api/v1/raise/x/", {"quantity": 0}, format="json")
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "validation_error"
    assert "quantity" in error["details"]["fields"]


def test_unparseable_json_returns_400_parse_error(api_client):
    response = api_client.post(
        "/api/v1/raise/x/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert _error(response)["code"] == "parse_error"


def test_not_found_returns_404(api_client):
    response = api_client.get("/api/v1/raise/not_found/")
    assert response.status_code == 404
    assert _error(response) == {
        "code": "not_found",
        "message": "No such cart.",
        "details": {},
    }


def test_permission_denied_returns_403(api_client):
    response = api_client.get("/api/v1/raise/forbidden/")
    assert response.status_code == 403
    assert _error(response)["code"] == "permission_denied"


def test_conflict_returns_409_with_specific_code(api_client):
    response = api_client.get("/api/v1/raise/conflict/")
    assert response.status_code == 409
    assert _error(response)["code"] == "invalid_state_transition"


def test_rule_failure_returns_400_with_its_code(api_client):
    response = api_client.get("/api/v1/raise/rule/")
    assert response.status_code == 400
    assert _error(response)["code"] == "coupon_expired"


def test_payment_declined_returns_402(api_client):
    response = api_client.get("/api/v1/raise/payment/")
    assert response.status_code == 402
    assert _error(response)["message"] == "Your card was declined."


def test_method_not_allowed_returns_405(api_client):
    response = api_client.delete("/api/v1/raise/x/")
    assert response.status_code == 405
    assert _error(response)["code"] == "method_not_allowed"


def test_unauthenticated_returns_401_with_www_authenticate(api_client):
    response = api_client.get("/api/v1/private/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert _error(response)["code"] == "not_authenticated"


def test_unexpected_error_returns_500_without_internals(api_client, caplog):
    response = api_client.get("/api/v1/raise/crash/", HTTP_X_REQUEST_ID="req-12345678")
    assert response.status_code == 500
    error = _error(response)
    assert error["code"] == "server_error"
    assert "secret internal detail" not in response.content.decode()
    assert error["details"]["request_id"] == "req-12345678"
    assert any("req-12345678" in r.getMessage() for r in caplog.records)


def test_rate_limited_returns_429_with_retry_after(api_client, settings):
    settings.COUPON_APPLY_RATE = "2/m"
    statuses = [api_client.post("/api/v1/throttled/").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    response = api_client.post("/api/v1/throttled/")
    # The time left in the client's one-minute window.
    assert 1 <= int(response["Retry-After"]) <= 60
    assert _error(response)["code"] == "rate_limited"
    assert _error(response)["details"]["retry_after"] == int(response["Retry-After"])


def test_forbidden_page_renders_friendly_403(client):
    response = client.get("/forbidden/")

    assert response.status_code == 403
    assert b"You do not have permission to see this page." in response.content


def test_crashing_page_renders_friendly_500_with_reference_only(client, caplog):
    client.raise_request_exception = False

    response = client.get("/crash/")

    assert response.status_code == 500
    assert b"Something went wrong on our side." in response.content
    assert b"Reference: <code>" in response.content
    assert b"secret internal detail" not in response.content
    assert "secret internal detail" in caplog.text  # reported, not swallowed
