import pytest

from tests.accounts.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def user_client(api_client):
    user = UserFactory(email="me@example.com", name="Old Name")
    api_client.force_authenticate(user)
    api_client.user = user
    return api_client


def test_me_get_returns_email_and_name(user_client):
    response = user_client.get("/api/v1/me/")

    assert response.status_code == 200
    assert response.json() == {
        "id": user_client.user.pk,
        "email": "me@example.com",
        "name": "Old Name",
    }


def test_me_patch_updates_name(user_client):
    response = user_client.patch("/api/v1/me/", {"name": "New Name"}, format="json")

    assert response.status_code == 200
    assert response.json()["name"] == "New Name"
    user_client.user.refresh_from_db()
    assert user_client.user.name == "New Name"


def test_me_patch_too_long_name_returns_validation_envelope(user_client):
    response = user_client.patch("/api/v1/me/", {"name": "x" * 151}, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert "name" in error["details"]["fields"]
    user_client.user.refresh_from_db()
    assert user_client.user.name == "Old Name"


def test_me_patch_without_name_returns_validation_envelope(user_client):
    response = user_client.patch("/api/v1/me/", {}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["details"]["fields"]["name"]


def test_me_patch_cannot_change_email(user_client):
    response = user_client.patch(
        "/api/v1/me/", {"name": "N", "email": "evil@example.com"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["email"] == "me@example.com"


def test_me_patch_over_rate_limit_returns_429_with_retry_after(user_client):
    for _ in range(30):
        assert (
            user_client.patch("/api/v1/me/", {"name": "a"}, format="json").status_code
            == 200
        )

    response = user_client.patch("/api/v1/me/", {"name": "b"}, format="json")

    assert response.status_code == 429
    assert response["Retry-After"]
    assert response.json()["error"]["code"] == "rate_limited"
    user_client.user.refresh_from_db()
    assert user_client.user.name == "a"


def test_me_session_auth_requires_csrf_for_patch(client):
    from django.test import Client

    user = UserFactory()
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(user)

    response = csrf_client.patch(
        "/api/v1/me/", {"name": "x"}, content_type="application/json"
    )

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_me_get_with_bearer_token_loads_user_in_one_query(
    client, api_client, django_assert_num_queries
):
    user = UserFactory(verified_email=True)
    token = client.post(
        "/_allauth/app/v1/auth/login",
        {"email": user.email, "password": PASSWORD},
        content_type="application/json",
    ).json()["meta"]["access_token"]

    with django_assert_num_queries(1):  # stateless JWT: only the user row
        response = api_client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 200
