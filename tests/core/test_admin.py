"""The admin index is grouped for running a shop; dj-stripe's mirror tables are
kept off it and are read-only for superusers alone."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db

SECTIONS = ["Orders", "Catalogue", "Customers", "Marketing", "Billing", "Settings"]


@pytest.fixture
def superuser_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_admin_index_lists_shop_sections_in_order(superuser_client):
    r = superuser_client.get(reverse("admin:index"))

    assert r.status_code == 200
    assert [app["name"] for app in r.context["app_list"]] == SECTIONS


def test_admin_index_hides_djstripe_and_has_no_duplicate_sections(superuser_client):
    r = superuser_client.get(reverse("admin:index"))

    html = r.content.decode()
    assert "/admin/djstripe/" not in html
    names = [app["name"] for app in r.context["app_list"]]
    assert "Accounts" not in names
    assert "Coupons" not in names
    models = [
        model["admin_url"] for app in r.context["app_list"] for model in app["models"]
    ]
    assert len(models) == len(set(models))
    # The allauth e-mail addresses sit with the customers, not in a second
    # "Accounts" section.
    customers = r.context["app_list"][SECTIONS.index("Customers")]
    assert [m["object_name"] for m in customers["models"]][:3] == [
        "User",
        "Address",
        "EmailAddress",
    ]


def test_admin_index_section_holds_the_orders_first(superuser_client):
    r = superuser_client.get(reverse("admin:index"))

    orders = r.context["app_list"][0]
    assert orders["models"][0]["admin_url"] == reverse(
        "admin:checkout_order_changelist"
    )
    assert orders["app_url"] == reverse("admin:checkout_order_changelist")


def test_admin_index_staff_sees_only_sections_they_may_use(client):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(
            codename="view_product", content_type__app_label="inventory"
        )
    )
    client.force_login(user)

    r = client.get(reverse("admin:index"))

    assert [app["name"] for app in r.context["app_list"]] == ["Catalogue"]
    assert "dashboard" not in r.context


def test_djstripe_changelist_readable_by_superuser_without_add_or_change(
    superuser_client,
):
    r = superuser_client.get(reverse("admin:djstripe_charge_changelist"))

    assert r.status_code == 200
    assert r.context["has_add_permission"] is False
    assert r.context["action_form"] is None
    assert superuser_client.get(reverse("admin:djstripe_charge_add")).status_code == 403


def test_djstripe_tables_refused_to_staff_who_is_not_superuser(client):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(
            codename="view_charge", content_type__app_label="djstripe"
        )
    )
    client.force_login(user)

    r = client.get(reverse("admin:djstripe_charge_changelist"))

    assert r.status_code == 403


def test_djstripe_app_page_still_reachable_by_url_for_superuser(superuser_client):
    r = superuser_client.get(reverse("admin:app_list", args=["djstripe"]))

    assert r.status_code == 200
    assert reverse("admin:djstripe_charge_changelist") in r.content.decode()
