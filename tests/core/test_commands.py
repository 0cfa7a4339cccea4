"""seed_demo (`make run`): a staff login that works, and demo data loaded once."""

from io import StringIO

import pytest
from django.core.management import call_command

from apps.accounts.models import User
from apps.checkout.models import ShippingMethod
from apps.inventory.models import Product, Variant

pytestmark = pytest.mark.django_db


def _seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_seed_demo_creates_staff_login_that_admin_accepts(client, monkeypatch):
    monkeypatch.delenv("DJANGO_SUPERUSER_EMAIL", raising=False)
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)

    output = _seed()

    assert "Staff login: admin@example.com / admin-demo-password" in output
    assert client.login(email="admin@example.com", password="admin-demo-password")
    assert client.get("/admin/").status_code == 200


def test_seed_demo_staff_can_sign_in_on_the_shop_with_mandatory_verification(
    client, monkeypatch
):
    monkeypatch.delenv("DJANGO_SUPERUSER_EMAIL", raising=False)
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)
    _seed()

    response = client.post(
        "/accounts/login/",
        {"login": "admin@example.com", "password": "admin-demo-password"},
    )

    assert response.status_code == 302
    assert response["Location"] != "/accounts/confirm-email/"
    assert client.session["_auth_user_id"]


def test_seed_demo_twice_leaves_the_same_rows(monkeypatch):
    monkeypatch.delenv("DJANGO_SUPERUSER_EMAIL", raising=False)
    _seed()
    counts = (
        User.objects.count(),
        Product.objects.count(),
        Variant.objects.count(),
        ShippingMethod.objects.count(),
    )
    assert counts[1] >= 20
    assert counts[3] >= 1

    _seed()

    assert (
        User.objects.count(),
        Product.objects.count(),
        Variant.objects.count(),
        ShippingMethod.objects.count(),
    ) == counts


def test_seed_demo_does_not_print_a_password_that_no_longer_works(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "boss@example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "first-password-123")
    _seed()
    staff = User.objects.get(email="boss@example.com")
    staff.set_password("changed-by-the-owner-456")
    staff.save()

    output = _seed()

    assert "first-password-123" not in output
    assert "changepassword boss@example.com" in output
    staff.refresh_from_db()
    assert staff.check_password("changed-by-the-owner-456")
    assert staff.is_staff
    assert staff.is_superuser
