import contextlib
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.exceptions import InvalidTransition
from apps.inventory.exceptions import (
    InvalidQuantity,
    NegativeStock,
    OutOfStock,
    QuantityLimitExceeded,
    ReservationExpired,
    ReservationNotFound,
    ReservationReleased,
    VariantUnavailable,
)
from apps.inventory.models import (
    RESERVATION_TRANSITIONS,
    BackInStockSubscription,
    Reservation,
    StockItem,
    StockMovement,
)
from apps.inventory.selectors import variant_availability_map
from apps.inventory.services import (
    ReservationRequest,
    back_in_stock_alerts_send,
    back_in_stock_subscribe,
    reservations_expire,
    reservations_transition,
    stock_adjust,
    stock_commit,
    stock_release,
    stock_reserve,
)
from apps.inventory.tasks import expire_reservations
from tests.inventory.factories import (
    ProductFactory,
    ReservationFactory,
    VariantFactory,
)

pytestmark = pytest.mark.django_db

TTL = timedelta(minutes=15)


def _available(variant) -> int:
    return variant_availability_map(variant_ids=[variant.pk])[variant.pk].available


def _on_hand(variant) -> int:
    return StockItem.objects.get(variant=variant).on_hand


# --- stock_reserve -------------------------------------------------------------


def test_stock_reserve_within_stock_holds_units():
    variant = VariantFactory(stock=5)

    [reservation] = stock_reserve(
        items=[ReservationRequest(variant.pk, 3)], ref="cart-1", ttl=TTL
    )

    assert reservation.quantity == 3
    assert reservation.backordered_quantity == 0
    assert reservation.status == Reservation.Status.ACTIVE
    assert _available(variant) == 2
    assert _on_hand(variant) == 5


def test_stock_reserve_beyond_stock_raises_out_of_stock_with_lines():
    variant = VariantFactory(stock=2, sku="TEE-RED-M")

    with pytest.raises(OutOfStock) as exc:
        stock_reserve(items=[ReservationRequest(variant.pk, 3)], ref="c", ttl=TTL)

    assert exc.value.code == "out_of_stock"
    assert exc.value.status_code == 409
    assert exc.value.details == {
        "lines": [{"sku": "TEE-RED-M", "requested": 3, "available": 2}]
    }
    assert not Reservation.objects.exists()


def test_stock_reserve_one_short_line_reserves_nothing():
    plenty = VariantFactory(stock=10)
    scarce = VariantFactory(stock=1)

    with pytest.raises(OutOfStock) as exc:
        stock_reserve(
            items=[ReservationRequest(plenty.pk, 2), ReservationRequest(scarce.pk, 2)],
            ref="c",
            ttl=TTL,
        )

    assert [line["sku"] for line in exc.value.details["lines"]] == [scarce.sku]
    assert not Reservation.objects.exists()
    assert _available(plenty) == 10


def test_stock_reserve_same_ref_replaces_previous_hold():
    variant = VariantFactory(stock=5)
    stock_reserve(items=[ReservationRequest(variant.pk, 4)], ref="cart", ttl=TTL)

    stock_reserve(items=[ReservationRequest(variant.pk, 5)], ref="cart", ttl=TTL)

    assert _available(variant) == 0
    statuses = sorted(Reservation.objects.values_list("status", flat=True))
    assert statuses == ["active", "released"]


def test_stock_reserve_other_refs_hold_counts_against_availability():
    variant = VariantFactory(stock=5)
    stock_reserve(items=[ReservationRequest(variant.pk, 4)], ref="a", ttl=TTL)

    with pytest.raises(OutOfStock) as exc:
        stock_reserve(items=[ReservationRequest(variant.pk, 2)], ref="b", ttl=TTL)

    assert exc.value.details["lines"][0]["available"] == 1


def test_stock_reserve_backorderable_beyond_stock_records_backordered_quantity():
    variant = VariantFactory(stock=2, backorderable=True)

    [reservation] = stock_reserve(
        items=[ReservationRequest(variant.pk, 5)], ref="c", ttl=TTL
    )

    assert reservation.quantity == 5
    assert reservation.backordered_quantity == 3
    availability = variant_availability_map(variant_ids=[variant.pk])[variant.pk]
    assert availability.available == 0
    assert availability.backorder is True
    assert availability.purchasable is True
    assert availability.expected_ship_date == timezone.localdate() + timedelta(14)


def test_stock_reserve_untracked_variant_never_runs_out():
    variant = VariantFactory(track_stock=False)

    [reservation] = stock_reserve(
        items=[ReservationRequest(variant.pk, 500)], ref="c", ttl=TTL
    )

    assert reservation.backordered_quantity == 0
    assert variant_availability_map(variant_ids=[variant.pk])[variant.pk].purchasable


def test_stock_reserve_above_max_per_order_raises():
    variant = VariantFactory(stock=50, max_per_order=2)

    with pytest.raises(QuantityLimitExceeded) as exc:
        stock_reserve(items=[ReservationRequest(variant.pk, 3)], ref="c", ttl=TTL)

    assert exc.value.details["max_per_order"] == 2


def test_stock_reserve_inactive_product_raises_unavailable():
    variant = VariantFactory(stock=5, product=ProductFactory(is_active=False))

    with pytest.raises(VariantUnavailable):
        stock_reserve(items=[ReservationRequest(variant.pk, 1)], ref="c", ttl=TTL)


def test_stock_reserve_zero_quantity_raises():
    variant = VariantFactory(stock=5)

    with pytest.raises(InvalidQuantity):
        stock_reserve(items=[ReservationRequest(variant.pk, 0)], ref="c", ttl=TTL)


def test_stock_reserve_duplicate_lines_are_merged():
    variant = VariantFactory(stock=5)

    [reservation] = stock_reserve(
        items=[ReservationRequest(variant.pk, 2), ReservationRequest(variant.pk, 2)],
        ref="c",
        ttl=TTL,
    )

    assert reservation.quantity == 4


# --- expiry --------------------------------------------------------------------


def test_expired_reservation_stops_counting_immediately():
    variant = VariantFactory(stock=5)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        stock_reserve(items=[ReservationRequest(variant.pk, 5)], ref="c", ttl=TTL)
        assert _available(variant) == 0

    with time_machine.travel(start + TTL + timedelta(seconds=1), tick=False):
        # Not yet marked by the beat task, but no longer holding stock.
        assert Reservation.objects.get().status == Reservation.Status.ACTIVE
        assert _available(variant) == 5
        stock_reserve(items=[ReservationRequest(variant.pk, 5)], ref="other", ttl=TTL)


def test_expire_reservations_task_marks_lapsed_holds_expired():
    variant = VariantFactory(stock=5)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        stock_reserve(items=[ReservationRequest(variant.pk, 1)], ref="old", ttl=TTL)
        stock_reserve(
            items=[ReservationRequest(variant.pk, 1)], ref="new", ttl=TTL * 10
        )

    with time_machine.travel(start + TTL + timedelta(seconds=1), tick=False):
        result = expire_reservations.delay()

    assert result.get() == 1
    assert Reservation.objects.get(ref="old").status == Reservation.Status.EXPIRED
    assert Reservation.objects.get(ref="new").status == Reservation.Status.ACTIVE
    assert reservations_expire() == 0


def test_beat_schedule_runs_expiry_every_minute(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["inventory.expire_reservations"]
    assert entry == {"task": "inventory.expire_reservations", "schedule": 60}


# --- stock_commit --------------------------------------------------------------


def test_stock_commit_decrements_on_hand_and_writes_sale_movements():
    variant = VariantFactory(stock=5)
    stock_reserve(items=[ReservationRequest(variant.pk, 3)], ref="order-1", ttl=TTL)

    [reservation] = stock_commit(ref="order-1")

    assert reservation.status == Reservation.Status.COMMITTED
    assert _on_hand(variant) == 2
    assert _available(variant) == 2
    movement = StockMovement.objects.get()
    assert (movement.quantity, movement.reason, movement.reference) == (
        -3,
        "sale",
        "order-1",
    )
    assert movement.on_hand_after == 2


def test_stock_commit_twice_same_result_as_once():
    variant = VariantFactory(stock=5)
    stock_reserve(items=[ReservationRequest(variant.pk, 3)], ref="order", ttl=TTL)

    first = stock_commit(ref="order")
    second = stock_commit(ref="order")

    assert [r.pk for r in first] == [r.pk for r in second]
    assert _on_hand(variant) == 2
    assert StockMovement.objects.count() == 1


def test_stock_release_twice_same_result_as_once():
    variant = VariantFactory(stock=5)
    stock_reserve(items=[ReservationRequest(variant.pk, 3)], ref="cart", ttl=TTL)

    assert stock_release(ref="cart") == 1
    assert stock_release(ref="cart") == 0

    assert Reservation.objects.get().status == Reservation.Status.RELEASED
    assert _available(variant) == 5
    assert _on_hand(variant) == 5
    assert not StockMovement.objects.exists()


def test_stock_release_after_commit_changes_nothing():
    variant = VariantFactory(stock=5)
    stock_reserve(items=[ReservationRequest(variant.pk, 3)], ref="o", ttl=TTL)
    stock_commit(ref="o")

    assert stock_release(ref="o") == 0

    assert Reservation.objects.get().status == Reservation.Status.COMMITTED
    assert _on_hand(variant) == 2


def test_stock_commit_after_release_raises():
    variant = VariantFactory(stock=5)
    stock_reserve(items=[ReservationRequest(variant.pk, 1)], ref="o", ttl=TTL)
    stock_release(ref="o")

    with pytest.raises(ReservationReleased):
        stock_commit(ref="o")
    assert _on_hand(variant) == 5


def test_stock_commit_unknown_ref_raises_not_found():
    with pytest.raises(ReservationNotFound):
        stock_commit(ref="nope")


def test_stock_commit_expired_hold_with_units_still_there_commits():
    variant = VariantFactory(stock=5)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        stock_reserve(items=[ReservationRequest(variant.pk, 2)], ref="o", ttl=TTL)
    with time_machine.travel(start + TTL * 2, tick=False):
        reservations_expire()
        [reservation] = stock_commit(ref="o")

    assert reservation.status == Reservation.Status.COMMITTED
    assert _on_hand(variant) == 3


def test_stock_commit_expired_hold_whose_units_were_taken_raises():
    variant = VariantFactory(stock=2)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        stock_reserve(items=[ReservationRequest(variant.pk, 2)], ref="slow", ttl=TTL)
    with time_machine.travel(start + TTL * 2, tick=False):
        stock_reserve(items=[ReservationRequest(variant.pk, 2)], ref="fast", ttl=TTL)
        with pytest.raises(ReservationExpired) as exc:
            stock_commit(ref="slow")

    assert isinstance(exc.value, OutOfStock)
    assert exc.value.code == "reservation_expired"
    assert exc.value.details["lines"] == [
        {"sku": variant.sku, "requested": 2, "available": 0}
    ]
    assert _on_hand(variant) == 2
    assert Reservation.objects.get(ref="slow").status != Reservation.Status.COMMITTED


def test_stock_commit_backordered_units_leave_on_hand_at_zero():
    variant = VariantFactory(stock=2, backorderable=True)
    stock_reserve(items=[ReservationRequest(variant.pk, 5)], ref="o", ttl=TTL)

    [reservation] = stock_commit(ref="o")

    assert reservation.backordered_quantity == 3
    assert _on_hand(variant) == 0
    assert StockMovement.objects.get().quantity == -2


# --- status transitions ----------------------------------------------------------

STATUSES = list(Reservation.Status)
ALLOWED_MOVES = {
    ("active", "committed"),
    ("active", "released"),
    ("active", "expired"),
    # A lapsed hold may still be sold if its units are there, or be closed.
    ("expired", "committed"),
    ("expired", "released"),
}


def test_reservations_transition_unknown_status_raises():
    reservation = ReservationFactory()

    with pytest.raises(InvalidTransition):
        reservations_transition(
            reservations=Reservation.objects.filter(pk=reservation.pk), to="lost"
        )
    reservation.refresh_from_db()
    assert reservation.status == Reservation.Status.ACTIVE


def _release(ref, variant):
    stock_release(ref=ref)


def _re_reserve(ref, variant):
    stock_reserve(items=[ReservationRequest(variant.pk, 1)], ref=ref, ttl=TTL)


def _commit(ref, variant):
    # A released hold cannot be committed: the error is part of the contract.
    with contextlib.suppress(ReservationReleased):
        stock_commit(ref=ref)


def _expire(ref, variant):
    reservations_expire()


@pytest.mark.parametrize("from_status", STATUSES, ids=str)
@pytest.mark.parametrize(
    ("service", "to_status"),
    [
        (_release, "released"),
        (_re_reserve, "released"),
        (_commit, "committed"),
        (_expire, "expired"),
    ],
    ids=["stock_release", "stock_reserve-again", "stock_commit", "expiry"],
)
def test_reservation_services_move_old_holds_only_as_table_allows(
    from_status, service, to_status
):
    variant = VariantFactory(stock=5)
    lapsed = timezone.now() - timedelta(minutes=1)
    old = ReservationFactory(
        variant=variant, ref="cart", status=from_status, expires_at=lapsed
    )

    service("cart", variant)

    old.refresh_from_db()
    if to_status in RESERVATION_TRANSITIONS.get(from_status, set()):
        assert old.status == to_status
    else:
        assert old.status == from_status


def test_stock_release_lapsed_hold_closes_it_for_good():
    variant = VariantFactory(stock=5)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        stock_reserve(items=[ReservationRequest(variant.pk, 2)], ref="o", ttl=TTL)
    with time_machine.travel(start + TTL * 2, tick=False):
        reservations_expire()
        assert stock_release(ref="o") == 1
        assert stock_release(ref="o") == 0
        with pytest.raises(ReservationReleased):
            stock_commit(ref="o")

    assert Reservation.objects.get().status == Reservation.Status.RELEASED
    assert _on_hand(variant) == 5
    assert _available(variant) == 5
    assert not StockMovement.objects.exists()


def test_stock_reserve_again_after_lapse_replaces_expired_hold():
    variant = VariantFactory(stock=5)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        stock_reserve(items=[ReservationRequest(variant.pk, 2)], ref="o", ttl=TTL)
    with time_machine.travel(start + TTL * 2, tick=False):
        reservations_expire()
        stock_reserve(items=[ReservationRequest(variant.pk, 1)], ref="o", ttl=TTL)
        [committed] = stock_commit(ref="o")

    assert committed.quantity == 1
    assert _on_hand(variant) == 4
    assert sorted(Reservation.objects.values_list("status", flat=True)) == [
        "committed",
        "released",
    ]


# --- stock_adjust ----------------------------------------------------------------


def test_stock_adjust_receive_raises_on_hand_and_writes_movement(django_user_model):
    variant = VariantFactory(stock=1)
    staff = django_user_model.objects.create_user(email="staff@example.com")

    movement = stock_adjust(
        variant_id=variant.pk,
        quantity_delta=4,
        reason="receive",
        actor=staff,
        reference="PO-7",
    )

    assert _on_hand(variant) == 5
    assert (movement.quantity, movement.reason, movement.actor, movement.reference) == (
        4,
        "receive",
        staff,
        "PO-7",
    )


def test_stock_adjust_creates_stock_item_when_missing():
    variant = VariantFactory()

    stock_adjust(variant_id=variant.pk, quantity_delta=3, reason="receive")

    assert _on_hand(variant) == 3


def test_stock_adjust_below_zero_raises_and_changes_nothing():
    variant = VariantFactory(stock=2)

    with pytest.raises(NegativeStock):
        stock_adjust(variant_id=variant.pk, quantity_delta=-3, reason="adjustment")

    assert _on_hand(variant) == 2
    assert not StockMovement.objects.exists()


def test_stock_item_on_hand_below_zero_rejected_by_database():
    variant = VariantFactory(stock=0)

    with pytest.raises(IntegrityError), transaction.atomic():
        StockItem.objects.filter(variant=variant).update(on_hand=-1)


def test_stock_adjust_unknown_reason_raises():
    variant = VariantFactory(stock=2)

    with pytest.raises(InvalidQuantity):
        stock_adjust(variant_id=variant.pk, quantity_delta=1, reason="gift")


# --- back in stock ---------------------------------------------------------------


def test_back_in_stock_subscribe_twice_keeps_one_subscription():
    variant = VariantFactory(stock=0)

    first = back_in_stock_subscribe(variant_id=variant.pk, email="A@Example.com")
    second = back_in_stock_subscribe(variant_id=variant.pk, email="a@example.com")

    assert first.pk == second.pk
    assert first.email == "a@example.com"


def test_stock_adjust_receive_from_zero_emails_each_subscriber_once(
    django_capture_on_commit_callbacks,
):
    variant = VariantFactory(stock=0, product__title="Wool Beanie")
    for email in ["a@example.com", "b@example.com", "c@example.com"]:
        back_in_stock_subscribe(variant_id=variant.pk, email=email)

    with django_capture_on_commit_callbacks(execute=True):
        stock_adjust(variant_id=variant.pk, quantity_delta=5, reason="receive")
    with django_capture_on_commit_callbacks(execute=True):
        stock_adjust(variant_id=variant.pk, quantity_delta=5, reason="receive")

    assert sorted(m.to[0] for m in mail.outbox) == [
        "a@example.com",
        "b@example.com",
        "c@example.com",
    ]
    assert "Wool Beanie is back in stock" in mail.outbox[0].subject
    assert f"/products/{variant.product.slug}/" in mail.outbox[0].body
    assert not BackInStockSubscription.objects.filter(sent_at__isnull=True).exists()


def test_back_in_stock_alerts_send_while_still_out_of_stock_sends_nothing():
    variant = VariantFactory(stock=2)
    back_in_stock_subscribe(variant_id=variant.pk, email="a@example.com")
    stock_reserve(items=[ReservationRequest(variant.pk, 2)], ref="c", ttl=TTL)

    assert back_in_stock_alerts_send(variant_id=variant.pk) == 0
    assert BackInStockSubscription.objects.get().sent_at is None
