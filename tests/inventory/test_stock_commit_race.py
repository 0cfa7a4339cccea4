"""stock_commit racing a release of the same hold (PostgreSQL, real threads)."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction

from apps.inventory.exceptions import ReservationReleased
from apps.inventory.models import Reservation, StockItem, StockMovement
from apps.inventory.services import (
    ReservationRequest,
    stock_commit,
    stock_release,
    stock_reserve,
)
from tests.inventory.factories import VariantFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_stock_commit_hold_released_while_waiting_for_lock_raises_released():
    """A commit that read the hold as open, then waited for the stock lock
    while the hold was released, must not report success without selling."""
    variant = VariantFactory(stock=3)
    stock_reserve(
        items=[ReservationRequest(variant.pk, 2)], ref="checkout:1", ttl=timedelta(1)
    )
    locked = threading.Event()
    go = threading.Event()
    outcome: dict = {}

    def blocker():
        try:
            with transaction.atomic():
                list(StockItem.objects.select_for_update().filter(variant=variant))
                locked.set()
                go.wait(timeout=30)
                time.sleep(0.5)  # let the committer reach the lock and wait
                stock_release(ref="checkout:1")
        finally:
            connection.close()

    def committer():
        try:
            outcome["result"] = stock_commit(ref="checkout:1")
        except Exception as exc:
            outcome["error"] = exc
        finally:
            connection.close()

    t1 = threading.Thread(target=blocker)
    t1.start()
    assert locked.wait(timeout=30)
    t2 = threading.Thread(target=committer)
    t2.start()
    go.set()
    t1.join(timeout=60)
    t2.join(timeout=60)

    assert isinstance(outcome.get("error"), ReservationReleased), outcome
    assert StockItem.objects.get(variant=variant).on_hand == 3
    assert not StockMovement.objects.filter(variant=variant).exists()
    assert not Reservation.objects.filter(status="committed").exists()
