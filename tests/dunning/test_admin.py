"""Staff see cases with their timeline and act on them through a confirmation."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.dunning.models import DunningAction, DunningCase
from tests.dunning.factories import DunningActionFactory, DunningCaseFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:dunning_dunningcase_changelist"


@pytest.fixture
def staff_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser(
        email="admin@example.com", password="x"
    )
    client.force_login(admin)
    return client


def _case_with_timeline(due_in: timedelta) -> DunningCase:
    case = DunningCaseFactory()
    DunningActionFactory(case=case, kind="email", detail="failed", status="succeeded")
    DunningActionFactory(
        case=case,
        attempt=1,
        due_at=timezone.now() + due_in,
        idempotency_key=f"k-{case.pk}",
    )
    return case


def test_due_today_filter_lists_due_cases_in_as_many_queries_for_1_and_5(
    staff_client,
):
    url = reverse(CHANGELIST)
    today = [_case_with_timeline(timedelta(hours=-1))]
    later = _case_with_timeline(timedelta(days=3))
    counts = []
    for more in (0, 4):
        today += [_case_with_timeline(timedelta(hours=-1)) for _ in range(more)]
        with CaptureQueriesContext(connection) as queries:
            response = staff_client.get(url, {"due": "today"})
        counts.append(len(queries))
        assert response.status_code == 200
        shown = {c.pk for c in response.context["cl"].result_list}
        assert shown == {c.pk for c in today}
        assert later.pk not in shown
    assert counts[0] == counts[1]
    assert staff_client.get(url).status_code == 200


def test_case_page_shows_the_timeline(staff_client):
    case = _case_with_timeline(timedelta(days=1))

    response = staff_client.get(
        reverse("admin:dunning_dunningcase_change", args=[case.pk])
    )

    assert response.status_code == 200
    body = response.content.decode()
    assert f"k-{case.pk}" in body
    assert "failed" in body


def _action(staff_client, action, case, follow=False, **extra):
    return staff_client.post(
        reverse(CHANGELIST),
        {"action": action, "_selected_action": [case.pk], **extra},
        follow=follow,
    )


def test_write_off_asks_first_then_closes_the_case(staff_client):
    case = _case_with_timeline(timedelta(days=1))

    asked = _action(staff_client, "write_off", case)
    assert asked.status_code == 200
    assert "Yes, close as written off" in asked.content.decode()
    case.refresh_from_db()
    assert case.status == DunningCase.Status.OPEN

    done = _action(staff_client, "write_off", case, confirmed="yes")
    assert done.status_code == 302
    case.refresh_from_db()
    assert case.status == DunningCase.Status.CANCELLED
    assert case.close_reason == "written_off"
    assert not case.actions.filter(status=DunningAction.Status.SCHEDULED).exists()


def test_pause_holds_due_actions_until_resumed(staff_client):
    from apps.dunning import services

    case = _case_with_timeline(timedelta(hours=-1))
    _action(staff_client, "pause", case, confirmed="yes")
    case.refresh_from_db()
    assert case.paused_at is not None
    assert services.actions_run_due() == 0

    _action(staff_client, "resume", case, confirmed="yes")
    case.refresh_from_db()
    assert case.paused_at is None


def test_retry_now_schedules_an_attempt_due_now(
    staff_client, django_capture_on_commit_callbacks
):
    case = _case_with_timeline(timedelta(days=1))

    with django_capture_on_commit_callbacks() as queued:
        _action(staff_client, "retry_now", case, confirmed="yes")

    retry = case.actions.get(kind="retry", detail="staff")
    assert retry.due_at <= timezone.now()
    assert retry.idempotency_key
    assert len(queued) == 1  # the beat task, queued after commit


def test_closed_case_refuses_staff_actions(staff_client):
    case = _case_with_timeline(timedelta(days=1))
    _action(staff_client, "write_off", case, confirmed="yes")

    response = _action(staff_client, "retry_now", case, confirmed="yes", follow=True)

    assert "is cancelled" in response.content.decode()
    assert not case.actions.filter(kind="retry", detail="staff").exists()


def test_policy_and_action_changelists_load(staff_client):
    _case_with_timeline(timedelta(days=1))
    for name in ("dunningpolicy", "dunningaction"):
        response = staff_client.get(reverse(f"admin:dunning_{name}_changelist"))
        assert response.status_code == 200


def test_staff_edit_the_default_policy(staff_client):
    from apps.dunning import services
    from tests.conftest import admin_change_form_data

    policy = services.policy_default()
    url = reverse("admin:dunning_dunningpolicy_change", args=[policy.pk])
    data = admin_change_form_data(staff_client.get(url))

    bad = staff_client.post(url, {**data, "retry_offsets_days": "[5, 2]"})
    ok = staff_client.post(
        url, {**data, "retry_offsets_days": "[2, 4]", "final_action_day": "6"}
    )

    assert bad.status_code == 200  # re-rendered with the error
    assert ok.status_code == 302
    policy.refresh_from_db()
    assert policy.retry_offsets_days == [2, 4]
    assert policy.final_action_day == 6
