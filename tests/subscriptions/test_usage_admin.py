"""Staff see a customer's usage; old usage is pruned."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from apps.subscriptions.models import MeteredPrice, UsageCounter, UsageEvent
from apps.subscriptions.tasks import prune_usage
from apps.subscriptions.usage.prune import months_before
from apps.subscriptions.usage.record import UsageInput, usage_record_many
from tests.subscriptions.usage_helpers import subscriber

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    staff = django_user_model.objects.create_superuser(
        email="staff@example.com", password="pw"
    )
    client.force_login(staff)
    return client


def _record(user, key, quantity=1):
    usage_record_many(
        events=[UsageInput(user.pk, "api_calls", quantity, key)], source="api"
    )


def test_usage_event_changelist_loads_and_links_the_customer_page(
    staff_client, basic_plan
):
    user = subscriber(basic_plan)
    for i in range(5):
        _record(user, f"k{i}")

    response = staff_client.get("/admin/subscriptions/usageevent/")

    assert response.status_code == 200
    assert (
        f"/admin/subscriptions/usageevent/user/{user.pk}/" in response.content.decode()
    )


def test_usage_customer_page_shows_windows_and_30_day_chart(
    staff_client, basic_plan, time_machine
):
    user = subscriber(basic_plan)
    time_machine.move_to("2026-03-01T10:00:00Z", tick=False)
    _record(user, "old", 2)
    time_machine.move_to("2026-03-10T10:00:00Z", tick=False)
    _record(user, "new", 4)

    response = staff_client.get(f"/admin/subscriptions/usageevent/user/{user.pk}/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "api_calls: 6 in total, busiest day 4" in html
    assert html.count("<rect ") == 30
    assert 'height="80"' in html  # the busiest day is the full height
    assert "10 Mar: 4" in html
    [day, month] = response.context["windows"]
    assert (day.used, day.limit, month.used) == (4, 10, 6)


def test_usage_customer_page_needs_staff(client, basic_plan):
    user = subscriber(basic_plan)
    client.force_login(user)

    response = client.get(f"/admin/subscriptions/usageevent/user/{user.pk}/")

    assert response.status_code == 302


def test_usage_event_is_read_only_in_admin(staff_client, basic_plan):
    user = subscriber(basic_plan)
    _record(user, "k")
    event = UsageEvent.objects.get()

    assert staff_client.get("/admin/subscriptions/usageevent/add/").status_code == 403
    delete = f"/admin/subscriptions/usageevent/{event.pk}/delete/"
    assert staff_client.get(delete).status_code == 403


def test_prune_usage_deletes_only_what_is_older_than_13_months(
    basic_plan, time_machine
):
    user = subscriber(basic_plan)
    time_machine.move_to("2025-02-05T12:00:00Z", tick=False)
    _record(user, "too-old")
    time_machine.move_to("2025-02-07T12:00:00Z", tick=False)
    _record(user, "kept")

    time_machine.move_to("2026-03-06T12:00:00Z", tick=False)
    deleted = prune_usage.delay().get()

    assert deleted == 1
    assert list(UsageEvent.objects.values_list("idempotency_key", flat=True)) == [
        "kept"
    ]
    # The February 2025 month counter started before the cutoff; the day
    # counter of the 7th did not.
    assert list(
        UsageCounter.objects.values_list("window_kind", "window_start__day")
    ) == [("day", 7)]


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("2026-03-31T08:00:00", "2025-02-28T08:00:00"),
        ("2026-03-06T08:00:00", "2025-02-06T08:00:00"),
        ("2026-01-15T00:00:00", "2024-12-15T00:00:00"),
    ],
)
def test_months_before_clamps_to_the_end_of_a_short_month(moment, expected):
    tz = timezone.get_current_timezone()
    start = datetime.fromisoformat(moment).replace(tzinfo=tz)

    assert months_before(start, 13) == datetime.fromisoformat(expected).replace(
        tzinfo=tz
    )
    assert months_before(start, 13) < start - timedelta(days=365)


@pytest.mark.parametrize("model", ["meteredprice", "usageoveragecharge"])
def test_overage_changelists_load(staff_client, basic_plan, model):
    MeteredPrice.objects.create(
        plan=basic_plan, metric="api_calls", block_amount_minor=5
    )

    response = staff_client.get(f"/admin/subscriptions/{model}/")

    assert response.status_code == 200
