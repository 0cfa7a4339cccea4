"""Usage limits are exact under real parallel requests (PostgreSQL).

The issue's acceptance: 50 threads, limit 100, each thread recording 3. Each
thread records three events of quantity 1 (three requests), so 150 units are
offered against a limit of 100: exactly 100 requests are accepted and 50
refused with 429, and the counter ends at the accepted sum, 100. (Read as
one event of quantity 3 per thread, it could not give "100 accepted and 50
rejected": 33 × 3 = 99 would be accepted and 17 refused.)
"""

import pytest
from rest_framework.test import APIClient

from apps.subscriptions.models import UsageCounter, UsageEvent
from tests.parallel import run_in_parallel
from tests.subscriptions.usage_helpers import plan_with, subscriber

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 50
EVENTS_PER_THREAD = 3
LIMIT = 100


def _post(client, key):
    response = client.post(
        "/api/v1/usage/",
        {"metric": "api_calls", "quantity": 1, "idempotency_key": key},
        format="json",
    )
    return key, response.status_code, response


def test_usage_fifty_threads_against_limit_100_accept_exactly_100():
    plan = plan_with(
        slug="race", limits={"api_calls": {"per_day": LIMIT, "per_month": 1000}}
    )
    user = subscriber(plan)

    def thread(n):
        def job():
            client = APIClient()
            client.force_authenticate(user)
            return [_post(client, f"t{n}-e{i}") for i in range(EVENTS_PER_THREAD)]

        return job

    results, errors = run_in_parallel([thread(n) for n in range(THREADS)])

    assert errors == []
    answers = [a for thread_answers in results for a in thread_answers]
    accepted = [key for key, status, _ in answers if status == 201]
    refused = [r for _, status, r in answers if status == 429]
    assert len(accepted) == LIMIT
    assert len(refused) == THREADS * EVENTS_PER_THREAD - LIMIT
    assert {r.json()["error"]["code"] for r in refused} == {"usage_limit_exceeded"}
    assert all(int(r["Retry-After"]) > 0 for r in refused)
    counters = {c.window_kind: c.used for c in UsageCounter.objects.filter(user=user)}
    assert counters == {"day": LIMIT, "month": LIMIT}
    events = UsageEvent.objects.filter(user=user)
    assert sorted(events.values_list("idempotency_key", flat=True)) == sorted(accepted)

    # Every accepted request retried with its key: nothing more is counted.
    client = APIClient()
    client.force_authenticate(user)
    retried = [_post(client, key)[1] for key in accepted[:10]]
    assert retried == [200] * 10
    assert UsageCounter.objects.get(user=user, window_kind="day").used == LIMIT
    assert events.count() == LIMIT


def test_usage_same_key_from_ten_threads_counts_once():
    plan = plan_with(slug="twins", limits={"api_calls": {"per_day": 50}})
    user = subscriber(plan)

    def job():
        client = APIClient()
        client.force_authenticate(user)
        return _post(client, "the-same-key")[1]

    results, errors = run_in_parallel([job for _ in range(10)])

    assert errors == []
    assert sorted(results) == [200] * 9 + [201]
    assert UsageCounter.objects.get(user=user, window_kind="day").used == 1
    assert UsageEvent.objects.filter(user=user).count() == 1
