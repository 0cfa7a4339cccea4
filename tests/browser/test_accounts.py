"""A shopper's account journey in a real browser, without JavaScript tricks."""

import re

import pytest
from django.core import mail

from apps.accounts.models import User

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EMAIL = "browser-shopper@example.com"
PASSWORD = "a-long-browser-pass-7"


def _wait_for_mail(page, count: int) -> None:
    """The live server sends mail in its own thread; give it a moment."""
    for _ in range(50):
        if len(mail.outbox) >= count:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"expected {count} mails, got {len(mail.outbox)}")


def test_signup_verify_logout_login_by_code_shows_account_page(page, live_server):
    # Sign up.
    page.goto("/accounts/signup/")
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.click("main form button[type=submit]")
    # "Check your inbox": signed in only once the address is confirmed (a
    # registered address gets this same answer).
    page.wait_for_url("**/accounts/confirm-email/")

    # The verification mail arrives; its link confirms and signs in.
    _wait_for_mail(page, 1)
    verification = mail.outbox[0]
    assert verification.to == [EMAIL]
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", verification.body)
    assert link, verification.body
    page.goto(link.group(0))
    page.click("main form button[type=submit]")
    page.wait_for_url("**/account/")
    assert page.get_by_test_id("account-email").inner_text() == EMAIL
    assert User.objects.get(email=EMAIL).emailaddress_set.get().verified

    # Log out from the header.
    page.goto("/account/")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_load_state()
    if "/accounts/logout/" in page.url:  # allauth asks to confirm on GET
        page.click("main form button[type=submit]")
    page.goto("/account/")
    assert "/accounts/login/" in page.url

    # Log in with a code sent by mail.
    page.goto("/accounts/login/")
    page.get_by_role("link", name=re.compile("sign-in code", re.I)).click()
    page.fill("input[name=email]", EMAIL)
    page.click("main form button[type=submit]")
    _wait_for_mail(page, 2)
    code_mail = mail.outbox[1]
    assert code_mail.to == [EMAIL]
    code = re.search(r"^\s*([A-Z0-9]{3,}(?:-[A-Z0-9]+)*)\s*$", code_mail.body, re.M)
    assert code, code_mail.body
    page.wait_for_url("**/accounts/login/code/confirm/")
    page.fill("input[name=code]", code.group(1))
    page.click("main form button[type=submit]")

    page.wait_for_url("**/account/")
    assert page.get_by_role("heading", name="Your account").is_visible()
    assert page.get_by_test_id("account-email").inner_text() == EMAIL
