from datetime import timedelta

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import path
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.subscriptions.api.permissions import HasFeature
from apps.subscriptions.entitlements import entitlements_for
from apps.subscriptions.models import Subscription, UsageCounter
from apps.subscriptions.services.effects import access_may_have_changed
from apps.subscriptions.services.grace import subscription_grace_set
from tests.accounts.factories import UserFactory
from tests.subscriptions.usage_helpers import subscriber

pytestmark = pytest.mark.django_db


class ApiAccessProbe(APIView):
    permission_classes = [HasFeature("api_access")]

    def get(self, request):
        return Response({"ok": True})


urlpatterns = [path("probe/", ApiAccessProbe.as_view())]


@pytest.mark.parametrize(
    ("status", "granted"),
    [
        ("trialing", True),
        ("active", True),
        ("past_due", True),
        ("canceled", False),
        ("unpaid", False),
        ("incomplete_expired", False),
        ("incomplete", False),
    ],
)
def test_entitlements_for_grant_by_status(basic_plan, status, granted):
    user = subscriber(basic_plan, status=status)

    ent = entitlements_for(user)

    assert ent.granted is granted
    if granted:
        assert ent.features == {"api_access": False, "projects": 3}
        assert ent.limits == {"api_calls": {"per_day": 10, "per_month": 100}}
    else:
        assert ent.features == {}
        assert ent.limits == {}


def test_entitlements_for_past_due_after_grace_grants_nothing(basic_plan):
    user = subscriber(
        basic_plan,
        status="past_due",
        grace_until=timezone.now() - timedelta(minutes=1),
    )

    assert entitlements_for(user).granted is False


def test_entitlements_for_cache_never_outlives_the_grace_period(
    basic_plan, time_machine
):
    time_machine.move_to(timezone.now(), tick=False)
    user = subscriber(
        basic_plan, status="past_due", grace_until=timezone.now() + timedelta(hours=1)
    )
    assert entitlements_for(user).granted is True

    time_machine.shift(timedelta(hours=1, seconds=2))

    assert entitlements_for(user).granted is False


def test_entitlements_for_is_cached_until_access_changes(
    basic_plan, django_assert_num_queries, django_capture_on_commit_callbacks
):
    user = subscriber(basic_plan, status="active")
    entitlements_for(user)
    with django_assert_num_queries(0):
        assert entitlements_for(user).granted is True

    sub = Subscription.objects.get(user=user)
    Subscription.objects.filter(pk=sub.pk).update(status="canceled")
    with django_capture_on_commit_callbacks(execute=True):
        access_may_have_changed(sub, "status:active->canceled")

    assert entitlements_for(user).granted is False


def test_entitlements_for_grace_set_invalidates_the_cache(
    basic_plan, django_capture_on_commit_callbacks
):
    user = subscriber(basic_plan, status="past_due")
    assert entitlements_for(user).granted is True
    sub = Subscription.objects.get(user=user)

    with django_capture_on_commit_callbacks(execute=True):
        subscription_grace_set(
            subscription_id=sub.pk, until=timezone.now() - timedelta(seconds=1)
        )

    assert entitlements_for(user).granted is False


def test_entitlements_for_plan_edit_reaches_cached_users(basic_plan):
    user = subscriber(basic_plan)
    assert entitlements_for(user).features["projects"] == 3

    basic_plan.features = {"api_access": False, "projects": 5}
    basic_plan.save()

    assert entitlements_for(user).features["projects"] == 5


@pytest.mark.urls(__name__)
def test_has_feature_without_it_is_403_naming_feature_and_plan(
    api_client, basic_plan, pro_plan
):
    api_client.force_authenticate(subscriber(basic_plan))

    response = api_client.get("/probe/")

    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "feature_not_in_plan"
    assert error["details"] == {
        "feature": "api_access",
        "plan": {"slug": "pro", "name": pro_plan.name},
    }


@pytest.mark.urls(__name__)
def test_has_feature_with_it_passes_and_anonymous_is_401(api_client, pro_plan):
    assert api_client.get("/probe/").status_code == 401
    api_client.force_authenticate(subscriber(pro_plan))

    assert api_client.get("/probe/").json() == {"ok": True}


def test_has_feature_template_tag_gates_a_page(basic_plan, pro_plan):
    template = Template(
        "{% load entitlements %}{% has_feature 'api_access' as ok %}"
        "{% if ok %}API{% else %}{% upgrade_plan_for 'api_access' as p %}"
        "Upgrade to {{ p.name }}{% endif %}"
    )

    def render(user):
        request = RequestFactory().get("/")
        request.user = user
        return template.render(Context({"request": request}))

    assert render(subscriber(pro_plan)) == "API"
    assert render(subscriber(basic_plan)) == f"Upgrade to {pro_plan.name}"


def test_me_entitlements_api_gives_features_limits_usage_and_resets(
    api_client, basic_plan, time_machine
):
    time_machine.move_to("2026-03-10T15:00:00Z", tick=False)
    user = subscriber(basic_plan)
    api_client.force_authenticate(user)
    UsageCounter.objects.create(
        user=user,
        metric="api_calls",
        window_kind="day",
        window_start="2026-03-10T00:00:00Z",
        used=4,
        updated_at=timezone.now(),
    )
    UsageCounter.objects.create(
        user=user,
        metric="api_calls",
        window_kind="month",
        window_start="2026-03-01T00:00:00Z",
        used=4,
        updated_at=timezone.now(),
    )

    response = api_client.get("/api/v1/me/entitlements/")

    assert response.status_code == 200
    body = response.json()
    assert body["granted"] is True
    assert body["plan"] == {"slug": "basic", "name": basic_plan.name}
    assert body["features"] == {"api_access": False, "projects": 3}
    assert body["limits"] == [
        {
            "metric": "api_calls",
            "window": "day",
            "used": 4,
            "limit": 10,
            "resets_at": "2026-03-11T00:00:00Z",
        },
        {
            "metric": "api_calls",
            "window": "month",
            "used": 4,
            "limit": 100,
            "resets_at": "2026-04-01T00:00:00Z",
        },
    ]


def test_me_entitlements_api_without_subscription_grants_nothing(api_client):
    api_client.force_authenticate(UserFactory())

    body = api_client.get("/api/v1/me/entitlements/").json()

    assert body == {
        "granted": False,
        "status": None,
        "plan": None,
        "features": {},
        "limits": [],
    }
