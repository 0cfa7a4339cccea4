"""Recording usage against the plan's limits (service and the user's API)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apps.core.models import Notification
from apps.subscriptions.api.usage import UsageCollectionApi
from apps.subscriptions.entitlements import entitlements_invalidate
from apps.subscriptions.models import Subscription, UsageCounter, UsageEvent
from apps.subscriptions.services.effects import access_may_have_changed
from apps.subscriptions.usage.record import UsageInput, usage_record_many
from tests.subscriptions.usage_helpers import subscriber

pytestmark = pytest.mark.django_db

URL = "/api/v1/usage/"


@pytest.fixture
def user(basic_plan, api_client, time_machine):
    time_machine.move_to("2026-03-10T15:00:00Z", tick=False)
    user = subscriber(basic_plan)
    api_client.force_authenticate(user)
    return user


def post(api_client, quantity, key, metric="api_calls"):
    return api_client.post(
        URL,
        {"metric": metric, "quantity": quantity, "idempotency_key": key},
        format="json",
    )


def counters(user):
    return {c.window_kind: c.used for c in UsageCounter.objects.filter(user=user)}


def test_usage_post_counts_day_and_month_and_answers_201(api_client, user):
    response = post(api_client, 4, "a")

    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "accepted"
    assert [(w["window"], w["used"], w["limit"]) for w in body["usage"]] == [
        ("day", 4, 10),
        ("month", 4, 100),
    ]
    assert counters(user) == {"day": 4, "month": 4}
    assert UsageEvent.objects.filter(user=user, quantity=4, source="api").count() == 1


def test_usage_post_answers_the_windows_as_the_usage_list_shows_them(api_client, user):
    accepted = post(api_client, 4, "a").json()
    duplicate = post(api_client, 4, "a").json()

    listed = [w for w in api_client.get(URL).json() if w["metric"] == "api_calls"]
    assert accepted["usage"] == duplicate["usage"] == listed
    assert UsageCollectionApi.OutputSerializer(data=accepted).is_valid()


def test_usage_post_query_count_is_pinned(api_client, user, django_assert_num_queries):
    post(api_client, 1, "warm")  # entitlements cached

    # PostgreSQL: one statement (event and both counters) in the transaction's
    # two (savepoints inside the test's transaction); SQLite: three statements.
    statements = 1 if connection.vendor == "postgresql" else 3
    with django_assert_num_queries(2 + statements):
        response = post(api_client, 1, "a")

    assert response.status_code == 201


def test_usage_post_same_key_again_counts_nothing_and_answers_200(api_client, user):
    post(api_client, 4, "a")

    response = post(api_client, 4, "a")

    assert response.status_code == 200
    assert response.json()["status"] == "duplicate"
    assert counters(user) == {"day": 4, "month": 4}
    assert UsageEvent.objects.filter(user=user).count() == 1


def test_usage_post_over_the_day_limit_is_429_with_window_and_reset(api_client, user):
    post(api_client, 8, "a")

    response = post(api_client, 3, "b")

    assert response.status_code == 429
    assert response["Retry-After"] == str(9 * 3600)
    error = response.json()["error"]
    assert error["code"] == "usage_limit_exceeded"
    assert error["details"] == {
        "metric": "api_calls",
        "limit": 10,
        "window": "day",
        "resets_at": "2026-03-11T00:00:00+00:00",
    }
    assert counters(user) == {"day": 8, "month": 8}
    assert not UsageEvent.objects.filter(idempotency_key="b").exists()


def test_usage_post_refused_key_can_be_retried_after_reset(
    api_client, user, time_machine
):
    post(api_client, 10, "a")
    assert post(api_client, 1, "b").status_code == 429

    time_machine.shift(timedelta(hours=9))  # midnight: a new day window

    assert post(api_client, 1, "b").status_code == 201
    assert counters(user) == {"day": 1, "month": 11}
    assert UsageCounter.objects.filter(user=user, window_kind="day").count() == 2


def test_usage_month_refusal_takes_back_the_day_increment(
    api_client, basic_plan, time_machine
):
    time_machine.move_to("2026-03-10T15:00:00Z", tick=False)
    user = subscriber(basic_plan)
    api_client.force_authenticate(user)
    UsageCounter.objects.create(
        user=user,
        metric="api_calls",
        window_kind="month",
        window_start=timezone.now().replace(day=1, hour=0),
        used=98,
        updated_at=timezone.now(),
    )

    response = post(api_client, 3, "a")

    assert response.status_code == 429
    assert response.json()["error"]["details"]["window"] == "month"
    assert response.json()["error"]["details"]["resets_at"].startswith("2026-04-01")
    assert counters(user) == {"day": 0, "month": 98}


def test_usage_quantity_above_the_limit_is_refused_without_a_counter(api_client, user):
    response = post(api_client, 11, "a")

    assert response.status_code == 429
    assert not UsageCounter.objects.filter(user=user).exists()


def test_usage_metric_not_in_plan_is_403(api_client, user):
    response = post(api_client, 1, "a", metric="gpu_minutes")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "metric_not_in_plan"


def test_usage_without_a_granting_subscription_is_403(api_client, user):
    Subscription.objects.filter(user=user).update(status="canceled")
    entitlements_invalidate(user_id=user.pk)

    assert post(api_client, 1, "a").status_code == 403


def test_usage_upgrade_raises_the_limit_at_once(
    api_client, user, pro_plan, django_capture_on_commit_callbacks
):
    post(api_client, 10, "a")
    assert post(api_client, 1, "b").status_code == 429
    sub = Subscription.objects.get(user=user)
    sub.price = pro_plan.prices.first()
    sub.save()
    with django_capture_on_commit_callbacks(execute=True):
        access_may_have_changed(sub, "plan_changed")  # as the change service does

    response = post(api_client, 1, "b")

    assert response.status_code == 201
    assert counters(user) == {"day": 11, "month": 11}


def test_usage_unlimited_window_is_still_counted(api_client, pro_plan, time_machine):
    time_machine.move_to("2026-03-10T15:00:00Z", tick=False)
    user = subscriber(pro_plan)
    api_client.force_authenticate(user)

    post(api_client, 5, "a")

    body = api_client.get(URL).json()
    assert body == [
        {
            "metric": "api_calls",
            "window": "day",
            "used": 5,
            "limit": 1000,
            "resets_at": "2026-03-11T00:00:00Z",
        },
        {
            "metric": "api_calls",
            "window": "month",
            "used": 5,
            "limit": None,
            "resets_at": "2026-04-01T00:00:00Z",
        },
    ]


def test_usage_alerts_once_at_80_and_once_at_100_percent_per_window(
    api_client, user, time_machine
):
    for i in range(10):
        post(api_client, 1, f"k{i}")  # 8 and 10 of the day's 10
    post(api_client, 1, "over")  # refused: no third email

    alerts = Notification.objects.filter(kind__startswith="subscriptions.usage_alert")
    assert sorted(alerts.values_list("kind", flat=True)) == [
        "subscriptions.usage_alert_100",
        "subscriptions.usage_alert_80",
    ]
    assert {n.recipient for n in alerts} == {user.email}
    assert (
        "80 % of your daily api_calls limit"
        in alerts.get(kind="subscriptions.usage_alert_80").subject
    )

    time_machine.shift(timedelta(days=1))  # a new day window alerts again
    for i in range(8):
        post(api_client, 1, f"d2-{i}")
    assert alerts.filter(kind="subscriptions.usage_alert_80").count() == 2


def test_usage_record_many_group_that_does_not_fit_is_taken_event_by_event(user):
    events = [UsageInput(user.pk, "api_calls", 4, f"k{i}") for i in range(3)]

    outcomes = usage_record_many(events=events, source="batch:test")

    assert [o.status for o in outcomes] == ["accepted", "accepted", "refused"]
    assert counters(user) == {"day": 8, "month": 8}
    assert set(UsageEvent.objects.values_list("idempotency_key", flat=True)) == {
        "k0",
        "k1",
    }


def test_usage_record_many_repeat_inside_one_call_counts_once(user):
    events = [UsageInput(user.pk, "api_calls", 2, "same")] * 3

    outcomes = usage_record_many(events=events, source="batch:test")

    assert [o.status for o in outcomes] == ["accepted", "duplicate", "duplicate"]
    assert counters(user) == {"day": 2, "month": 2}


def test_usage_counter_tables_are_the_ones_the_raw_sql_names():
    assert UsageCounter._meta.db_table == "subscriptions_usagecounter"
    assert UsageEvent._meta.db_table == "subscriptions_usageevent"
