import pytest

from apps.carts import services
from apps.carts.models import CART_STATES, Cart
from apps.core.exceptions import InvalidTransition
from tests.carts.factories import CartFactory

pytestmark = pytest.mark.django_db

STATUSES = list(Cart.Status.values)
# Written out, not read from CART_TRANSITIONS, so a change to the table fails here.
ALLOWED_MOVES = {
    ("open", "checked_out"),
    ("open", "abandoned"),
    ("abandoned", "open"),
}


@pytest.mark.parametrize(
    ("from_status", "to_status"),
    [(f, t) for f in STATUSES for t in STATUSES],
    ids=str,
)
def test_cart_transition_every_pair_moves_only_as_table_allows(from_status, to_status):
    cart = CartFactory(status=from_status)
    version = cart.version

    if from_status == to_status:
        services.cart_transition(cart_id=cart.pk, to=to_status)
        expected_status, expected_version = from_status, version
    elif (from_status, to_status) in ALLOWED_MOVES:
        moved = services.cart_transition(cart_id=cart.pk, to=to_status)
        assert moved.status == to_status
        expected_status, expected_version = to_status, version + 1
    else:
        with pytest.raises(InvalidTransition) as exc:
            services.cart_transition(cart_id=cart.pk, to=to_status)
        assert exc.value.status_code == 409
        assert exc.value.details == {"from": from_status, "to": to_status}
        expected_status, expected_version = from_status, version

    cart.refresh_from_db()
    assert cart.status == expected_status
    assert cart.version == expected_version


@pytest.mark.parametrize("from_status", STATUSES, ids=str)
def test_cart_states_move_many_abandons_only_open_carts(from_status):
    cart = CartFactory(status=from_status)

    moved = CART_STATES.move_many(Cart.objects.filter(pk=cart.pk), "abandoned")

    cart.refresh_from_db()
    allowed = (from_status, "abandoned") in ALLOWED_MOVES
    assert moved == (1 if allowed else 0)
    assert cart.status == ("abandoned" if allowed else from_status)
    assert cart.version == (2 if allowed else 1)
