"""Workflow admin: the changelist loads without N+1 and staff can retry a row."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.core import workflows
from apps.core.models import Workflow
from apps.core.workflows import workflow_fail, workflow_handler

pytestmark = pytest.mark.django_db

URL = "admin:core_workflow_changelist"


def _fail(n: int, *, start: int = 0) -> None:
    for i in range(start, start + n):
        workflow_fail(name="test.admin", reference=f"R{i}", error="Stripe down")


def test_admin_workflow_changelist_query_count_same_for_1_and_5_rows(
    admin_client, django_assert_num_queries
):
    _fail(1)
    admin_client.get(reverse(URL))
    with CaptureQueriesContext(connection) as one:
        assert admin_client.get(reverse(URL)).status_code == 200
    _fail(4, start=1)

    with django_assert_num_queries(len(one)):
        r = admin_client.get(reverse(URL))

    assert r.status_code == 200
    assert r.context["cl"].result_count == 5


def test_admin_workflow_filter_needs_attention_lists_only_those(admin_client):
    _fail(1)
    stuck = workflow_fail(name="test.admin", reference="stuck", error="x", attempts=50)

    r = admin_client.get(reverse(URL), {"status__exact": "needs_attention"})

    assert [w.pk for w in r.context["cl"].result_list] == [stuck.pk]


def test_admin_workflow_retry_action_runs_the_handler(admin_client, monkeypatch):
    monkeypatch.setattr(workflows, "_handlers", dict(workflows._handlers))
    ran: list[str] = []
    workflow_handler("test.admin")(lambda workflow: ran.append(workflow.reference))
    stuck = workflow_fail(name="test.admin", reference="stuck", error="x", attempts=50)

    r = admin_client.post(
        reverse(URL), {"action": "retry", "_selected_action": [stuck.pk]}
    )

    assert r.status_code == 302
    stuck.refresh_from_db()
    assert (stuck.status, stuck.attempts) == ("resolved", 51)
    assert ran == ["stuck"]


def test_admin_workflow_cannot_be_deleted(admin_client):
    _fail(1)
    workflow = Workflow.objects.get()

    r = admin_client.post(reverse("admin:core_workflow_delete", args=[workflow.pk]))

    assert r.status_code == 403
    assert Workflow.objects.filter(pk=workflow.pk).exists()
