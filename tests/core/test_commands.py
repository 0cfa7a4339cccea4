"""seed_demo (`make run`): a staff login that works, and demo data loaded once.

Seeding the catalogue makes ~40 pictures with renditions (seconds of CPU), so
the default run is seeded twice in ONE test that checks everything a fresh
`make run` promises; the password test seeds only the staff user.
"""

from io import StringIO

import pytest
from django.core.management import call_command

from apps.accounts.models import User
from apps.checkout.models import ShippingMethod
from apps.core.management.commands import seed_demo
from apps.inventory.models import Product, Variant
from apps.subscriptions.models import Plan

pytestmark = pytest.mark.django_db


def _seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def _counts() -> tuple[int, ...]:
    return (
        User.objects.count(),
        Product.objects.count(),
        Variant.objects.count(),
        ShippingMethod.objects.count(),
        Plan.objects.count(),
    )


def test_seed_demo_twice_same_rows_staff_signs_in_to_admin_and_shop(
    client, monkeypatch
):
    monkeypatch.delenv("DJANGO_SUPERUSER_EMAIL", raising=False)
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)

    output = _seed()
    counts = _counts()
    assert counts[1] >= 20  # products
    assert counts[3] >= 1  # shipping methods
    assert Plan.objects.filter(slug="starter").exists()
    assert "Staff login: admin@example.com / admin-demo-password" in output

    _seed()
    assert _counts() == counts

    # The shop's sign-in (mandatory verification) accepts the printed login...
    response = client.post(
        "/accounts/login/",
        {"login": "admin@example.com", "password": "admin-demo-password"},
    )
    assert response.status_code == 302
    assert response["Location"] != "/accounts/confirm-email/"
    assert client.session["_auth_user_id"]
    # ...and so does admin.
    assert client.get("/admin/").status_code == 200


def test_seed_demo_staff_only_creates_the_login_and_no_demo_data(monkeypatch):
    monkeypatch.delenv("DJANGO_SUPERUSER_EMAIL", raising=False)
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)
    out = StringIO()
    call_command("seed_demo", "--staff-only", stdout=out)

    assert "Staff login: admin@example.com / admin-demo-password" in out.getvalue()
    assert User.objects.filter(email="admin@example.com", is_staff=True).exists()
    assert not Product.objects.exists()
    assert not Plan.objects.exists()


def test_seed_demo_does_not_print_a_password_that_no_longer_works(monkeypatch):
    # Only the staff user is under test: the apps' seeds are covered above.
    monkeypatch.setattr(seed_demo, "SEED_COMMANDS", [])
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
