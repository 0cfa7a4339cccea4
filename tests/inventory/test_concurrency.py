"""Real parallel reservations against PostgreSQL (skipped on SQLite)."""

from datetime import timedelta

import pytest

from apps.inventory.exceptions import OutOfStock
from apps.inventory.models import Reservation, StockItem, StockMovement
from apps.inventory.services import ReservationRequest, stock_commit, stock_reserve
from tests.inventory.factories import VariantFactory
from tests.parallel import run_in_parallel

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 50
TTL = timedelta(minutes=15)


def test_stock_reserve_50_parallel_single_unit_only_stock_succeeds():
    variant = VariantFactory(stock=5)

    def reserve(i):
        return lambda: stock_reserve(
            items=[ReservationRequest(variant.pk, 1)], ref=f"cart-{i}", ttl=TTL
        )

    results, errors = run_in_parallel([reserve(i) for i in range(THREADS)])

    assert len(results) == 5
    assert len(errors) == THREADS - 5
    assert all(isinstance(e, OutOfStock) for e in errors), errors[:3]
    assert Reservation.objects.filter(status="active").count() == 5

    refs = [r[0].ref for r in results]
    _, commit_errors = run_in_parallel(
        [lambda ref=ref: stock_commit(ref=ref) for ref in refs]
    )

    assert commit_errors == []
    assert StockItem.objects.get(variant=variant).on_hand == 0
    movements = StockMovement.objects.filter(variant=variant)
    assert movements.count() == 5
    assert min(m.on_hand_after for m in movements) == 0
    assert Reservation.objects.filter(status="committed").count() == 5


def test_stock_reserve_parallel_multi_line_opposite_orders_all_or_nothing():
    first = VariantFactory(stock=5)
    second = VariantFactory(stock=3)

    def reserve(i):
        lines = [ReservationRequest(first.pk, 1), ReservationRequest(second.pk, 1)]
        if i % 2:
            lines.reverse()
        return lambda: stock_reserve(items=lines, ref=f"cart-{i}", ttl=TTL)

    results, errors = run_in_parallel([reserve(i) for i in range(THREADS)])

    # No deadlock errors: every failure is a clean OutOfStock.
    assert all(isinstance(e, OutOfStock) for e in errors), errors[:3]
    assert len(results) == 3
    assert all(len(lines) == 2 for lines in results)
    active = Reservation.objects.filter(status="active")
    assert active.filter(variant=first).count() == 3
    assert active.filter(variant=second).count() == 3

    refs = [lines[0].ref for lines in results]
    _, commit_errors = run_in_parallel(
        [lambda ref=ref: stock_commit(ref=ref) for ref in refs]
    )

    assert commit_errors == []
    assert StockItem.objects.get(variant=first).on_hand == 2
    assert StockItem.objects.get(variant=second).on_hand == 0


def test_stock_commit_same_ref_twice_in_parallel_sells_once():
    variant = VariantFactory(stock=5)
    stock_reserve(items=[ReservationRequest(variant.pk, 2)], ref="order-1", ttl=TTL)

    results, errors = run_in_parallel(
        [lambda: stock_commit(ref="order-1") for _ in range(2)]
    )

    assert errors == []
    assert [[r.status for r in lines] for lines in results] == [["committed"]] * 2
    assert results[0][0].pk == results[1][0].pk
    assert StockItem.objects.get(variant=variant).on_hand == 3
    sale = StockMovement.objects.get(variant=variant)
    assert (sale.reason, sale.quantity, sale.on_hand_after) == ("sale", -2, 3)
    assert Reservation.objects.get(ref="order-1").status == "committed"


def test_parallel_stock_receives_email_each_back_in_stock_subscriber_once():
    from django.core import mail

    from apps.inventory.models import BackInStockSubscription
    from apps.inventory.services import stock_adjust
    from tests.inventory.factories import BackInStockSubscriptionFactory

    variant = VariantFactory(stock=0)
    emails = ["a@example.com", "b@example.com", "c@example.com"]
    for email in emails:
        BackInStockSubscriptionFactory(variant=variant, email=email)
    mail.outbox.clear()

    def receive():
        return stock_adjust(variant_id=variant.pk, quantity_delta=2, reason="receive")

    _, errors = run_in_parallel([receive for _ in range(4)])

    assert errors == []
    assert StockItem.objects.get(variant=variant).on_hand == 8
    assert StockMovement.objects.filter(variant=variant, reason="receive").count() == 4
    assert sorted(m.to[0] for m in mail.outbox) == emails
    assert not BackInStockSubscription.objects.filter(sent_at__isnull=True).exists()
