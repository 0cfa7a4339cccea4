"""Signing up never tells whether an address has an account (issue 11.6).

A new and an already registered address get the same answer, on the page
and in the headless API; the owner of the existing account is mailed that
someone tried to sign up with it.
"""

import pytest
from django.core import mail

from apps.accounts.models import User
from tests.accounts.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

APP = "/_allauth/app/v1"
OTHER_PASSWORD = "another-horse-battery-7"


def _page_signup(client, email):
    return client.post(
        "/accounts/signup/",
        {"email": email, "password1": OTHER_PASSWORD, "password2": OTHER_PASSWORD},
    )


def _headless_signup(client, email):
    return client.post(
        f"{APP}/auth/signup",
        {"email": email, "password": OTHER_PASSWORD},
        content_type="application/json",
    )


def _shape(value):
    """The keys and types of a JSON body, without the values."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(item) for item in value]
    return type(value).__name__


def test_signup_page_answers_a_registered_and_a_new_address_alike(
    client, django_capture_on_commit_callbacks
):
    owner = UserFactory(email="taken@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        taken = _page_signup(client, "taken@example.com")
    client.logout()
    with django_capture_on_commit_callbacks(execute=True):
        fresh = _page_signup(client, "fresh@example.com")

    assert taken.status_code == fresh.status_code == 302
    assert taken["Location"] == fresh["Location"] == "/accounts/confirm-email/"
    assert b"email_taken" not in taken.content
    # Nobody was signed in, and the owner's account is untouched.
    assert "_auth_user_id" not in client.session
    assert User.objects.filter(email="taken@example.com").count() == 1
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)
    to_owner, to_new = mail.outbox
    assert to_owner.to == ["taken@example.com"]
    assert "already" in to_owner.subject.lower()
    assert "/accounts/password/reset/" in to_owner.body
    assert "tried to sign up" in to_owner.body
    assert to_new.to == ["fresh@example.com"]
    assert "/accounts/confirm-email/" in to_new.body


def test_headless_signup_answers_a_registered_and_a_new_address_alike(
    client, django_capture_on_commit_callbacks
):
    UserFactory(email="taken@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        taken = _headless_signup(client, "taken@example.com")
    client.logout()
    with django_capture_on_commit_callbacks(execute=True):
        fresh = _headless_signup(client, "fresh@example.com")

    assert taken.status_code == fresh.status_code
    assert taken.status_code != 400, taken.json()
    assert _shape(taken.json()) == _shape(fresh.json())
    assert "email_taken" not in taken.content.decode()
    assert "access_token" not in taken.json().get("meta", {})
    assert [m.to for m in mail.outbox] == [["taken@example.com"], ["fresh@example.com"]]
