"""Real parallel reservations against PostgreSQL (skipped on SQLite)."""

import threading
from datetime import timedelta

import pytest
from django.db import connection

from apps.inventory.exceptions import OutOfStock
from apps.inventory.models import Reservation, StockItem, StockMovement
from apps.inventory.services import ReservationRequest, stock_commit, stock_reserve
from tests.inventory.factories import VariantFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 50
TTL = timedelta(minutes=15)


def _run_in_parallel(jobs):
    """Run callables in threads started together; return (results, errors)."""
    barrier = threading.Barrier(len(jobs))
    results, errors = [], []
    lock = threading.Lock()

    def worker(job):
        try:
            barrier.wait(timeout=30)
            outcome = job()
            with lock:
                results.append(outcome)
        except BaseException as exc:
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung (deadlock?)"
    return results, errors


def test_stock_reserve_50_parallel_single_unit_only_stock_succeeds():
    variant = VariantFactory(stock=5)

    def reserve(i):
        return lambda: stock_reserve(
            items=[ReservationRequest(variant.pk, 1)], ref=f"cart-{i}", ttl=TTL
        )

    results, errors = _run_in_parallel([reserve(i) for i in range(THREADS)])

    assert len(results) == 5
    assert len(errors) == THREADS - 5
    assert all(isinstance(e, OutOfStock) for e in errors), errors[:3]
    assert Reservation.objects.filter(status="active").count() == 5

    refs = [r[0].ref for r in results]
    _, commit_errors = _run_in_parallel(
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

    results, errors = _run_in_parallel([reserve(i) for i in range(THREADS)])

    # No deadlock errors: every failure is a clean OutOfStock.
    assert all(isinstance(e, OutOfStock) for e in errors), errors[:3]
    assert len(results) == 3
    assert all(len(lines) == 2 for lines in results)
    active = Reservation.objects.filter(status="active")
    assert active.filter(variant=first).count() == 3
    assert active.filter(variant=second).count() == 3

    refs = [lines[0].ref for lines in results]
    _, commit_errors = _run_in_parallel(
        [lambda ref=ref: stock_commit(ref=ref) for ref in refs]
    )

    assert commit_errors == []
    assert StockItem.objects.get(variant=first).on_hand == 2
    assert StockItem.objects.get(variant=second).on_hand == 0
