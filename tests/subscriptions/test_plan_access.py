"""Private plans: staff assign them; only the assigned user may subscribe."""

import pytest
from django.core.exceptions import ValidationError

from apps.subscriptions import services
from apps.subscriptions.exceptions import PlanPrivate
from apps.subscriptions.models import PlanAssignment, Subscription
from apps.subscriptions.services.plan_access import plan_assign
from tests.accounts.factories import UserFactory
from tests.subscriptions.factories import (
    PlanAssignmentFactory,
    PlanFactory,
    PlanPriceFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def private_price(pushed_price):
    return pushed_price(amount=90000, visibility="private", slug="acme-deal")


@pytest.mark.localstripe
def test_assigned_user_subscribes_to_private_plan(api_client, private_price):
    user = UserFactory()
    PlanAssignmentFactory(plan=private_price.plan, user=user)
    api_client.force_authenticate(user)

    response = api_client.post(
        "/api/v1/subscriptions/", {"price": private_price.pk}, format="json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["subscription"]["plan"] == "acme-deal"


@pytest.mark.localstripe
def test_unassigned_user_still_gets_plan_private(api_client, private_price):
    PlanAssignmentFactory(plan=private_price.plan)  # someone else's deal
    api_client.force_authenticate(UserFactory())

    response = api_client.post(
        "/api/v1/subscriptions/", {"price": private_price.pk}, format="json"
    )

    assert (response.status_code, response.json()["error"]["code"]) == (
        403,
        "plan_private",
    )
    assert not Subscription.objects.exists()


def test_subscribe_page_of_private_plan_403_unless_assigned(client):
    price = PlanPriceFactory(plan=PlanFactory(private=True, name="Acme deal"))
    assigned, other = UserFactory(), UserFactory()
    PlanAssignmentFactory(plan=price.plan, user=assigned)

    client.force_login(other)
    denied = client.get(f"/subscribe/{price.pk}/")
    client.force_login(assigned)
    shown = client.get(f"/subscribe/{price.pk}/")

    assert denied.status_code == 403
    assert shown.status_code == 200
    assert "Acme deal" in shown.content.decode()


def test_account_page_lists_plans_offered_to_the_user(client):
    price = PlanPriceFactory(
        plan=PlanFactory(private=True, name="Acme deal"), stripe_price_id="plan_x"
    )
    user = UserFactory()
    PlanAssignmentFactory(plan=price.plan, user=user)
    client.force_login(user)

    page = client.get("/account/subscription/").content.decode()

    assert "Acme deal" in page
    assert f"/subscribe/{price.pk}/" in page
    client.force_login(UserFactory())
    assert "Acme deal" not in client.get("/account/subscription/").content.decode()


def test_plan_assign_refuses_public_plan_and_keeps_one_row():
    user = UserFactory()
    private = PlanFactory(private=True)
    plan_assign(plan=private, user=user)
    plan_assign(plan=private, user=user, note="renewed deal")

    assert PlanAssignment.objects.get().note == "renewed deal"
    with pytest.raises(ValidationError, match="public"):
        plan_assign(plan=PlanFactory(), user=user)


def test_admin_assigns_private_plan_through_the_service(client, django_user_model):
    staff = django_user_model.objects.create_superuser(
        email="staff@example.com", password="pw"
    )
    client.force_login(staff)
    plan = PlanFactory(private=True)
    PlanFactory(slug="public-one")
    customer = UserFactory()

    form = client.get("/admin/subscriptions/planassignment/add/").content.decode()
    response = client.post(
        "/admin/subscriptions/planassignment/add/",
        {"plan": plan.pk, "user": customer.pk, "note": "Acme, 20 seats"},
    )

    assert "public-one" not in form
    assert response.status_code == 302
    assignment = PlanAssignment.objects.get()
    assert (assignment.user, assignment.assigned_by) == (customer, staff)
    listed = client.get("/admin/subscriptions/planassignment/")
    assert listed.status_code == 200
    assert "Acme, 20 seats" in listed.content.decode()


@pytest.mark.localstripe
def test_subscription_create_private_plan_assigned_passes_the_check(pushed_price):
    price = pushed_price(visibility="private")
    user = UserFactory()
    with pytest.raises(PlanPrivate):
        services.subscription_create(user=user, price_id=price.pk)
    PlanAssignmentFactory(plan=price.plan, user=user)

    start = services.subscription_create(user=user, price_id=price.pk)

    assert start.subscription.price == price
