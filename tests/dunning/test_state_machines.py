"""CASE_STATES and ACTION_STATES over every (from, to) pair of states."""

import itertools

import pytest

from apps.core.exceptions import InvalidTransition
from apps.dunning.models import ACTION_STATES, CASE_STATES, DunningAction, DunningCase
from tests.dunning.factories import DunningActionFactory, DunningCaseFactory

pytestmark = pytest.mark.django_db

CASE = DunningCase.Status
ACTION = DunningAction.Status


@pytest.mark.parametrize(
    ("source", "target"), list(itertools.product(CASE.values, CASE.values))
)
def test_case_every_pair(source, target):
    case = DunningCaseFactory(status=source)

    if source == target:
        assert CASE_STATES.move_by_pk(case.pk, target).status == source
    elif target in CASE_STATES.transitions[source]:
        moved = CASE_STATES.move_by_pk(case.pk, target)
        assert moved.status == target
        assert moved.closed_at is not None
    else:
        with pytest.raises(InvalidTransition) as exc:
            CASE_STATES.move_by_pk(case.pk, target)
        assert exc.value.code == "invalid_state_transition"
        case.refresh_from_db()
        assert case.status == source


def test_case_table_open_to_three_ends_only():
    assert CASE_STATES.transitions[CASE.OPEN] == {
        CASE.RECOVERED,
        CASE.EXHAUSTED,
        CASE.CANCELLED,
    }
    assert all(not CASE_STATES.transitions[s] for s in CASE.values if s != CASE.OPEN)


@pytest.mark.parametrize(
    ("source", "target"), list(itertools.product(ACTION.values, ACTION.values))
)
def test_action_every_pair(source, target):
    action = DunningActionFactory(status=source)

    if source == target:
        assert ACTION_STATES.move_by_pk(action.pk, target).status == source
    elif target in ACTION_STATES.transitions[source]:
        assert ACTION_STATES.move_by_pk(action.pk, target).status == target
    else:
        with pytest.raises(InvalidTransition):
            ACTION_STATES.move_by_pk(action.pk, target)
        action.refresh_from_db()
        assert action.status == source
