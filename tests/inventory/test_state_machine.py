import pytest

from apps.core.exceptions import InvalidTransition
from apps.inventory.models import RESERVATION_STATES, Reservation
from apps.inventory.services import reservations_transition
from tests.inventory.factories import ReservationFactory

pytestmark = pytest.mark.django_db

STATUSES = list(Reservation.Status.values)
# Written out, not read from RESERVATION_TRANSITIONS, so a change to the table
# fails here.
ALLOWED_MOVES = {
    ("active", "committed"),
    ("active", "released"),
    ("active", "expired"),
    ("expired", "committed"),
    ("expired", "released"),
}
PAIRS = [(f, t) for f in STATUSES for t in STATUSES]


@pytest.mark.parametrize(("from_status", "to_status"), PAIRS, ids=str)
def test_reservation_move_every_pair_moves_only_as_table_allows(from_status, to_status):
    reservation = ReservationFactory(status=from_status)

    if from_status == to_status:
        moved = RESERVATION_STATES.move_by_pk(reservation.pk, to_status)
        assert moved.status == from_status
    elif (from_status, to_status) in ALLOWED_MOVES:
        moved = RESERVATION_STATES.move_by_pk(reservation.pk, to_status)
        assert moved.status == to_status
    else:
        with pytest.raises(InvalidTransition) as exc:
            RESERVATION_STATES.move_by_pk(reservation.pk, to_status)
        assert exc.value.status_code == 409

    reservation.refresh_from_db()
    allowed = (from_status, to_status) in ALLOWED_MOVES
    assert reservation.status == (to_status if allowed else from_status)


@pytest.mark.parametrize(("from_status", "to_status"), PAIRS, ids=str)
def test_reservations_transition_sweep_every_pair_moves_only_as_table_allows(
    from_status, to_status
):
    # The sweeps are bulk and idempotent: a forbidden or same-state move is
    # skipped, not raised, and the count says so.
    reservation = ReservationFactory(status=from_status)

    moved = reservations_transition(
        reservations=Reservation.objects.filter(pk=reservation.pk), to=to_status
    )

    reservation.refresh_from_db()
    allowed = (from_status, to_status) in ALLOWED_MOVES
    assert moved == (1 if allowed else 0)
    assert reservation.status == (to_status if allowed else from_status)
