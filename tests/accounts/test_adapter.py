"""allauth's mails go through the notification path, once per genuine send."""

import pytest
from django.core import mail

from apps.core.logging import set_request_id
from apps.core.models import Notification
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db

APP = "/_allauth/app/v1"


def _request_code(client, email, request_id):
    return client.post(
        f"{APP}/auth/code/request",
        {"email": email},
        content_type="application/json",
        HTTP_X_REQUEST_ID=request_id,
    )


def test_allauth_mail_is_recorded_as_notification_with_html(
    client, django_capture_on_commit_callbacks
):
    user = UserFactory(email="notify@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        client.post("/accounts/password/reset/", {"email": user.email})

    notification = Notification.objects.get()
    assert notification.kind == "account.password_reset_key"
    assert notification.recipient == "notify@example.com"
    assert notification.idempotency_key.startswith(
        "allauth:account/email/password_reset_key:"
    )
    assert notification.status == Notification.Status.SENT
    assert "Choose a new password" in notification.body_html
    assert "/accounts/password/reset/key/" in notification.body_text
    message = mail.outbox[0]
    assert message.extra_headers["X-Notification-Key"] == notification.idempotency_key
    assert message.subject == notification.subject == "[Shop] Password Reset Email"


def test_allauth_mail_links_use_requesting_host(
    client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            f"{APP}/auth/signup",
            {"email": "host@example.com", "password": "a-long-pass-123"},
            content_type="application/json",
            HTTP_HOST="shop.example.org",
        )

    assert "http://shop.example.org/accounts/confirm-email/" in mail.outbox[0].body


def test_allauth_identical_mail_in_one_request_is_one_notification(
    rf, django_capture_on_commit_callbacks
):
    from allauth.core import context

    from apps.accounts.adapter import AccountAdapter

    request = rf.get("/")
    set_request_id("same-request-0001")
    try:
        with (
            context.request_context(request),
            django_capture_on_commit_callbacks(execute=True),
        ):
            adapter = AccountAdapter(request)
            ctx = {"signup_url": "http://testserver/accounts/signup/"}
            adapter.send_mail("account/email/unknown_account", "who@example.com", ctx)
            adapter.send_mail("account/email/unknown_account", "who@example.com", ctx)
    finally:
        set_request_id(None)

    assert Notification.objects.count() == 1
    assert len(mail.outbox) == 1


def test_allauth_genuine_resend_with_same_body_is_a_new_mail(
    client, django_capture_on_commit_callbacks
):
    # allauth's "unknown account" mail has the same body every time; a user
    # asking twice must still get two mails.
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/accounts/password/reset/",
            {"email": "nobody@example.com"},
            HTTP_X_REQUEST_ID="first-request-01",
        )
        client.post(
            "/accounts/password/reset/",
            {"email": "nobody@example.com"},
            HTTP_X_REQUEST_ID="second-request-02",
        )

    assert Notification.objects.count() == 2
    assert len(mail.outbox) == 2
    assert mail.outbox[0].body == mail.outbox[1].body


def test_allauth_login_code_mails_carry_distinct_codes(
    client, django_capture_on_commit_callbacks
):
    user = UserFactory(email="codes@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        _request_code(client, user.email, "code-request-01")
        client.cookies.clear()
        _request_code(client, user.email, "code-request-02")

    assert Notification.objects.filter(kind="account.login_code").count() == 2
    assert len(mail.outbox) == 2
    assert mail.outbox[0].body != mail.outbox[1].body
