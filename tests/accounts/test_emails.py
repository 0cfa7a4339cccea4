"""allauth's account emails go out as text and HTML (its text part, the
shop's HTML part on account/email/base_message.html); both parts are read."""

import re

import pytest
from django.core import mail

from tests.accounts.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def _parts(message) -> tuple[str, str]:
    html = dict((mime, body) for body, mime in message.alternatives)["text/html"]
    assert html.lstrip().startswith("<!DOCTYPE html>") or "<html" in html
    assert "<" not in message.body.replace("<!", "")
    return message.body, html


def test_password_reset_email_carries_the_reset_link_in_both_parts(
    client, django_capture_on_commit_callbacks
):
    UserFactory(email="known@example.com", verified_email=True)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/accounts/password/reset/", {"email": "known@example.com"}
        )

    assert response.status_code == 302
    (message,) = mail.outbox
    assert message.to == ["known@example.com"]
    text, html = _parts(message)
    link = re.search(r"http://testserver/accounts/password/reset/key/\S+/", text)
    assert link
    assert f'href="{link.group(0)}"' in html
    assert "Choose a new password" in html


def test_unknown_address_asking_for_a_reset_is_told_so_in_both_parts(
    client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/accounts/password/reset/", {"email": "nobody@example.com"})

    (message,) = mail.outbox
    assert message.to == ["nobody@example.com"]
    text, html = _parts(message)
    for part in (text, html):
        assert "http://testserver/accounts/signup/" in part


def test_signup_confirmation_email_carries_the_confirm_link_in_both_parts(
    client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/accounts/signup/",
            {
                "email": "fresh@example.com",
                "password1": PASSWORD,
                "password2": PASSWORD,
            },
        )

    (message,) = mail.outbox
    text, html = _parts(message)
    link = re.search(r"http://testserver/accounts/confirm-email/\S+/", text)
    assert link
    assert f'href="{link.group(0)}"' in html
