"""The batch endpoint (service API key) and the usage reads."""

import pytest
from django.db import connection
from rest_framework_api_key.models import APIKey

from apps.subscriptions.api.usage import (
    UsageBatchEventSerializer,
    UsageInputSerializer,
    _plain_event,
    _plain_events,
)
from apps.subscriptions.models import UsageCounter, UsageEvent
from tests.accounts.factories import UserFactory
from tests.subscriptions.usage_helpers import plan_with, subscriber

pytestmark = pytest.mark.django_db

BATCH = "/api/v1/usage/batch/"


@pytest.fixture
def service(api_client):
    key, raw = APIKey.objects.create_key(name="metering")
    api_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return key


def event(user, key, quantity=1, metric="api_calls"):
    return {
        "user": user.pk,
        "metric": metric,
        "quantity": quantity,
        "idempotency_key": key,
    }


def test_usage_batch_needs_a_service_key(api_client, basic_plan):
    user = subscriber(basic_plan)
    api_client.force_authenticate(user)  # a signed-in user is not a service

    response = api_client.post(BATCH, {"events": [event(user, "a")]}, format="json")

    assert response.status_code == 401
    assert not UsageEvent.objects.exists()


def test_usage_batch_records_each_event_and_reports_each_outcome(
    api_client, service, basic_plan, pro_plan
):
    alice, bob = subscriber(basic_plan), subscriber(pro_plan)
    stranger = UserFactory()  # no subscription
    events = [
        event(alice, "a1", 6),
        event(bob, "b1", 500),
        event(alice, "a2", 6),  # 12 > alice's 10 a day
        event(alice, "a3", 4),
        event(stranger, "s1"),
        {**event(alice, "x"), "user": 999_999},
        event(bob, "b1", 500),  # a repeat inside the batch
    ]

    response = api_client.post(BATCH, {"events": events}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["duplicates"], body["refused"]) == (3, 1, 3)
    assert [(r["status"], r["code"]) for r in body["results"]] == [
        ("accepted", ""),
        ("accepted", ""),
        ("refused", "usage_limit_exceeded"),
        ("accepted", ""),
        ("refused", "metric_not_in_plan"),
        ("refused", "user_not_found"),
        ("duplicate", ""),
    ]
    assert body["results"][2]["details"]["limit"] == 10
    used = {(c.user_id, c.window_kind): c.used for c in UsageCounter.objects.all()}
    assert used == {
        (alice.pk, "day"): 10,
        (alice.pk, "month"): 10,
        (bob.pk, "day"): 500,
        (bob.pk, "month"): 500,
    }
    assert UsageEvent.objects.filter(source=f"batch:{service.prefix}").count() == 3


def test_usage_batch_sent_twice_counts_once(api_client, service, basic_plan):
    user = subscriber(basic_plan)
    payload = {"events": [event(user, f"k{i}") for i in range(5)]}

    first = api_client.post(BATCH, payload, format="json").json()
    second = api_client.post(BATCH, payload, format="json").json()

    assert first["accepted"] == 5
    assert (second["accepted"], second["duplicates"]) == (0, 5)
    assert UsageCounter.objects.get(user=user, window_kind="day").used == 5


def test_usage_batch_over_1000_events_is_400(api_client, service, basic_plan):
    user = subscriber(basic_plan)
    payload = {"events": [event(user, f"k{i}") for i in range(1001)]}

    response = api_client.post(BATCH, payload, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_usage_history_gives_daily_sums_for_the_range(
    api_client, basic_plan, time_machine
):
    user = subscriber(basic_plan)
    api_client.force_authenticate(user)
    for day, quantities in (("2026-03-08", [2, 3]), ("2026-03-10", [4])):
        time_machine.move_to(f"{day}T12:00:00Z", tick=False)
        for q in quantities:
            api_client.post(
                "/api/v1/usage/",
                {"metric": "api_calls", "quantity": q, "idempotency_key": f"{day}{q}"},
                format="json",
            )

    response = api_client.get(
        "/api/v1/usage/history/?metric=api_calls&from=2026-03-01&to=2026-03-09"
    )

    assert response.status_code == 200
    assert response.json() == {
        "date_from": "2026-03-01",
        "date_to": "2026-03-09",
        "days": [{"date": "2026-03-08", "metric": "api_calls", "quantity": 5}],
    }
    everything = api_client.get("/api/v1/usage/history/").json()
    assert [d["quantity"] for d in everything["days"]] == [5, 4]


def test_usage_history_bad_date_is_400(api_client, basic_plan):
    api_client.force_authenticate(subscriber(basic_plan))

    response = api_client.get("/api/v1/usage/history/?from=yesterday")

    assert response.status_code == 400


@pytest.mark.parametrize("count", [1, 5])
def test_usage_list_query_count_does_not_grow_with_metrics(
    api_client, django_assert_max_num_queries, count
):
    from tests.subscriptions.usage_helpers import plan_with

    plan = plan_with(
        slug=f"m{count}", limits={f"metric_{i}": {"per_day": 5} for i in range(count)}
    )
    api_client.force_authenticate(subscriber(plan))

    with django_assert_max_num_queries(6):
        response = api_client.get("/api/v1/usage/")

    assert len(response.json()) == 2 * count


@pytest.mark.parametrize("size", [1, 2, 1000])
def test_usage_batch_query_count_does_not_grow_with_events(
    api_client, service, django_assert_num_queries, size
):
    plan = plan_with(slug="roomy", limits={"api_calls": {"per_day": 10**6}})
    user = subscriber(plan)
    payload = {"events": [event(user, f"k{i}") for i in range(size)]}
    api_client.post(BATCH, {"events": [event(user, "warm")]}, format="json")

    # The key, the user, the events' insert, the counters' statement(s), and
    # the transaction's two (savepoints inside the test's transaction).
    # SQLite has no CTE insert: one more statement for the second window.
    # PostgreSQL records a lone event with its counters in one statement.
    on_postgres = connection.vendor == "postgresql"
    queries = (5 if size == 1 else 6) if on_postgres else 7
    with django_assert_num_queries(queries):
        response = api_client.post(BATCH, payload, format="json")

    assert response.json()["accepted"] == size


VALID = {"metric": "api_calls", "quantity": 3, "idempotency_key": "k-1"}


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"extra": "ignored"},
        {"metric": "api-calls_2"},
        {"metric": "a" * 50},
        {"metric": "a" * 51},
        {"metric": "api calls"},
        {"metric": "api_calls\n"},
        {"metric": "dé"},
        {"metric": ""},
        {"metric": 5},
        {"metric": None},
        {"quantity": 1},
        {"quantity": 1_000_000},
        {"quantity": 1_000_001},
        {"quantity": 0},
        {"quantity": "3"},
        {"quantity": 3.0},
        {"quantity": True},
        {"quantity": None},
        {"idempotency_key": "k" * 255},
        {"idempotency_key": "k" * 256},
        {"idempotency_key": " k "},
        {"idempotency_key": ""},
        {"idempotency_key": "   "},
        {"idempotency_key": "a\x00b"},
        {"idempotency_key": "a\ud800b"},
        {"idempotency_key": 12},
        {"idempotency_key": "ünïcode-ключ"},
        {"user": 7},
        {"user": 0},
        {"user": "7"},
        {"user": True},
    ],
)
def test_usage_plain_event_check_agrees_with_the_serializer(change):
    item = {**VALID, "user": 1, **change}
    for with_user, serializer in (
        (False, UsageInputSerializer),
        (True, UsageBatchEventSerializer),
    ):
        plain = _plain_event(item, with_user=with_user)
        checked = serializer(data=item)
        if plain is not None:  # taken as it is: the serializer agrees exactly
            assert checked.is_valid(), checked.errors
            assert plain == dict(checked.validated_data)


def test_usage_plain_events_leaves_odd_batches_to_the_serializer():
    item = {**VALID, "user": 1}
    assert _plain_events({"events": [item]}) == [item]
    assert _plain_events({"events": []}) is None
    assert _plain_events({"events": [item] * 1001}) is None
    assert _plain_events({"events": [item, {**item, "quantity": 0}]}) is None
    assert _plain_events({"events": "x"}) is None
    assert _plain_events([item]) is None


def test_usage_batch_keys_are_stored_exactly_as_sent(api_client, service, basic_plan):
    user = subscriber(basic_plan)
    keys = ['quote"d', "back\\slash", "ключ-🔑", "{a,b}", "'single'"]

    response = api_client.post(
        BATCH, {"events": [event(user, k) for k in keys]}, format="json"
    )

    assert response.json()["accepted"] == len(keys)
    stored = UsageEvent.objects.filter(user=user).values_list(
        "idempotency_key", flat=True
    )
    assert sorted(stored) == sorted(keys)
