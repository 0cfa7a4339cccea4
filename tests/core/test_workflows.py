"""Failed steps retried by their registered handler: registry, backoff, leases."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core import tasks, workflows
from apps.core.models import WORKFLOW_TRANSITIONS, Workflow
from apps.core.workflows import (
    BACKOFF_BASE,
    BACKOFF_MAX,
    DEFAULT_MAX_ATTEMPTS,
    WORKFLOW_LEASE,
    workflow_backoff,
    workflow_fail,
    workflow_handler,
    workflow_resolve,
    workflow_retry_now,
    workflows_retry_due,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def registry(monkeypatch):
    """Give each test its own copy of the registry (the apps' handlers kept)."""
    monkeypatch.setattr(workflows, "_handlers", dict(workflows._handlers))


@pytest.fixture
def calls():
    """A handler that records what it ran and fails while ``fail`` is set."""
    ran: list[str] = []
    state = {"fail": False}

    @workflow_handler("test.step", max_attempts=3)
    def step(workflow):
        ran.append(workflow.reference)
        if state["fail"]:
            raise ConnectionError("still down")

    return ran, state


def _later(workflow: Workflow, seconds: int = 1):
    return workflow.next_attempt_at + timedelta(seconds=seconds)


# --- registry and backoff ------------------------------------------------------


def test_workflow_handler_second_function_for_one_name_raises():
    @workflow_handler("test.once")
    def first(workflow):
        pass

    with pytest.raises(ValueError, match=r"test\.once"):

        @workflow_handler("test.once")
        def second(workflow):
            pass

    # Registering the same function again (a re-imported module) is harmless.
    workflow_handler("test.once")(first)
    assert workflows.workflow_handler_get("test.once").run is first


def test_checkout_steps_have_handlers_registered_at_startup():
    assert workflows.workflow_handler_get("order.compensate") is not None
    assert workflows.workflow_handler_get("order.finalize_payment") is not None


@pytest.mark.parametrize(
    ("attempts", "wait"),
    [
        (0, BACKOFF_BASE),
        (1, BACKOFF_BASE),
        (2, BACKOFF_BASE * 2),
        (4, BACKOFF_BASE * 8),
        (30, BACKOFF_MAX),
        (10_000, BACKOFF_MAX),
    ],
)
def test_workflow_backoff_doubles_up_to_the_cap(attempts, wait):
    assert workflow_backoff(attempts) == wait


# --- recording failures --------------------------------------------------------


def test_workflow_fail_first_failure_opens_a_row_due_after_backoff():
    before = timezone.now()

    workflow = workflow_fail(
        name="test.step", reference="R1", error="boom", payload={"x": 1}
    )

    assert workflow.status == Workflow.Status.OPEN
    assert (workflow.attempts, workflow.last_error, workflow.payload) == (
        1,
        "boom",
        {"x": 1},
    )
    assert before + BACKOFF_BASE <= workflow.next_attempt_at
    assert workflow.next_attempt_at <= timezone.now() + BACKOFF_BASE


def test_workflow_fail_same_step_and_reference_adds_to_the_open_row():
    first = workflow_fail(name="test.step", reference="R1", error="a", payload={"x": 1})
    again = workflow_fail(
        name="test.step", reference="R1", error="b", attempts=2, payload={"x": 2}
    )
    other = workflow_fail(name="test.step", reference="R2", error="c")

    assert again.pk == first.pk != other.pk
    again.refresh_from_db()
    assert (again.attempts, again.last_error, again.payload) == (3, "b", {"x": 1})


def test_workflow_fail_past_the_handlers_limit_needs_attention(calls):
    workflow = workflow_fail(name="test.step", reference="R1", error="x", attempts=3)

    workflow.refresh_from_db()
    assert workflow.status == Workflow.Status.NEEDS_ATTENTION


def test_workflow_fail_unregistered_name_uses_the_default_limit():
    workflow = workflow_fail(
        name="test.unknown",
        reference="R1",
        error="x",
        attempts=DEFAULT_MAX_ATTEMPTS - 1,
    )
    assert workflow.status == Workflow.Status.OPEN

    workflow = workflow_fail(name="test.unknown", reference="R1", error="x")
    assert workflow.status == Workflow.Status.NEEDS_ATTENTION


def test_workflow_resolve_resolves_the_open_row_and_ignores_others():
    workflow = workflow_fail(name="test.step", reference="R1", error="x")

    assert workflow_resolve(name="test.step", reference="nope") is None
    resolved = workflow_resolve(name="test.step", reference="R1")

    assert resolved.pk == workflow.pk
    workflow.refresh_from_db()
    assert workflow.status == Workflow.Status.RESOLVED
    assert workflow.resolved_at is not None
    # A later failure of the same step opens a new row.
    assert workflow_fail(name="test.step", reference="R1", error="y").pk != workflow.pk


# --- the beat sweep ------------------------------------------------------------


def test_workflows_retry_due_runs_only_due_rows(calls):
    ran, _state = calls
    due = workflow_fail(name="test.step", reference="due", error="x")
    later = workflow_fail(name="test.step", reference="later", error="x")
    Workflow.objects.filter(pk=later.pk).update(
        next_attempt_at=due.next_attempt_at + timedelta(hours=1)
    )

    assert workflows_retry_due(now=_later(due)) == 1

    assert ran == ["due"]
    due.refresh_from_db()
    later.refresh_from_db()
    assert (due.status, due.attempts) == ("resolved", 2)
    assert (due.claimed_by, due.lease_expires_at) == ("", None)
    assert (later.status, later.attempts) == ("open", 1)


def test_workflows_retry_due_failure_counts_backs_off_then_needs_attention(calls):
    ran, state = calls
    state["fail"] = True
    workflow = workflow_fail(name="test.step", reference="R1", error="first")

    before = timezone.now()
    assert workflows_retry_due(now=_later(workflow)) == 1
    workflow.refresh_from_db()
    assert (workflow.status, workflow.attempts) == ("open", 2)
    assert workflow.last_error == "ConnectionError: still down"
    # Backed off from when the attempt failed, by the doubled wait.
    assert workflow.next_attempt_at >= before + workflow_backoff(2)
    assert workflow.lease_expires_at is None
    early = workflow.next_attempt_at - timedelta(seconds=1)
    assert workflows_retry_due(now=early) == 0

    assert workflows_retry_due(now=_later(workflow)) == 1
    workflow.refresh_from_db()
    assert (workflow.status, workflow.attempts) == ("needs_attention", 3)
    # Staff must look now: beat no longer runs it, however late.
    assert workflows_retry_due(now=timezone.now() + timedelta(days=30)) == 0
    assert ran == ["R1", "R1"]


def test_workflows_retry_due_without_handler_records_the_reason():
    workflow = workflow_fail(name="test.nobody", reference="R1", error="x")

    assert workflows_retry_due(now=_later(workflow)) == 1

    workflow.refresh_from_db()
    assert (workflow.status, workflow.attempts) == ("open", 2)
    assert "No handler is registered" in workflow.last_error


def test_workflows_retry_due_leased_row_is_skipped_until_its_lease_expires(calls):
    ran, _state = calls
    workflow = workflow_fail(name="test.step", reference="R1", error="x")
    now = _later(workflow)
    # A worker claimed it and died: its lease is still running.
    Workflow.objects.filter(pk=workflow.pk).update(
        claimed_by="dead-worker", lease_expires_at=now + timedelta(minutes=5)
    )

    assert workflows_retry_due(now=now) == 0
    assert ran == []

    assert workflows_retry_due(now=now + timedelta(minutes=5, seconds=1)) == 1
    workflow.refresh_from_db()
    assert ran == ["R1"]
    assert (workflow.status, workflow.claimed_by) == ("resolved", "")


def test_workflow_run_after_lease_lost_leaves_the_new_owners_row(calls, monkeypatch):
    workflow = workflow_fail(name="test.step", reference="R1", error="x")

    def slow_step(row):
        # Runs past its lease; another worker reclaims the row meanwhile.
        Workflow.objects.filter(pk=row.pk).update(
            claimed_by="second-worker",
            lease_expires_at=timezone.now() + WORKFLOW_LEASE,
        )

    monkeypatch.setitem(
        workflows._handlers,
        "test.step",
        workflows.WorkflowHandler("test.step", slow_step, 3),
    )

    workflows_retry_due(now=_later(workflow), worker="first-worker")

    workflow.refresh_from_db()
    assert (workflow.status, workflow.attempts) == ("open", 1)
    assert workflow.claimed_by == "second-worker"


def test_retry_workflows_task_runs_the_sweep(calls):
    ran, _state = calls
    workflow = workflow_fail(name="test.step", reference="R1", error="x")
    Workflow.objects.filter(pk=workflow.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )

    assert tasks.retry_workflows.apply().get() == 1
    assert ran == ["R1"]


# --- staff retry --------------------------------------------------------------


def test_workflow_retry_now_needs_attention_row_success_resolves(calls):
    ran, state = calls
    workflow = workflow_fail(name="test.step", reference="R1", error="x", attempts=3)
    state["fail"] = True

    failed = workflow_retry_now(workflow_id=workflow.pk)
    assert (failed.status, failed.attempts) == ("needs_attention", 4)

    state["fail"] = False
    done = workflow_retry_now(workflow_id=workflow.pk)
    assert (done.status, done.attempts) == ("resolved", 5)

    # Resolved: a further retry runs nothing and changes nothing.
    again = workflow_retry_now(workflow_id=workflow.pk)
    assert (again.status, again.attempts) == ("resolved", 5)
    assert ran == ["R1", "R1"]


def test_workflow_retry_now_row_another_worker_runs_is_left_alone(calls):
    ran, _state = calls
    workflow = workflow_fail(name="test.step", reference="R1", error="x")
    Workflow.objects.filter(pk=workflow.pk).update(
        claimed_by="busy", lease_expires_at=timezone.now() + timedelta(minutes=5)
    )

    result = workflow_retry_now(workflow_id=workflow.pk)

    assert (result.status, result.attempts, result.claimed_by) == ("open", 1, "busy")
    assert ran == []


# --- the state machine --------------------------------------------------------


@pytest.mark.parametrize("source", list(Workflow.Status))
@pytest.mark.parametrize("to", list(Workflow.Status))
def test_workflow_machine_every_pair(source, to):
    from apps.core.exceptions import InvalidTransition
    from apps.core.workflows import WORKFLOW_MACHINE

    row = Workflow.objects.create(name="test.machine", status=source)
    legal = to in WORKFLOW_TRANSITIONS.get(source, set())

    if source == to or legal:
        WORKFLOW_MACHINE.move(row, to)
        row.refresh_from_db()
        assert row.status == to
        assert (row.resolved_at is not None) == (
            to == Workflow.Status.RESOLVED and source != to
        )
    else:
        with pytest.raises(InvalidTransition):
            WORKFLOW_MACHINE.move(row, to)
        row.refresh_from_db()
        assert row.status == source
