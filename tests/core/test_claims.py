"""claim(): a row is leased to one worker at a time, reclaimed once the lease lapses."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apps.core.claims import claim, worker_id
from apps.core.models import Workflow

pytestmark = pytest.mark.django_db

LEASE = timedelta(minutes=5)


def _rows(n: int) -> list[Workflow]:
    return [
        Workflow.objects.create(name="test.claim", reference=f"R{i}") for i in range(n)
    ]


def test_claim_takes_oldest_rows_up_to_limit_and_marks_them():
    rows = _rows(3)
    now = timezone.now()

    claimed = claim(Workflow.objects.all(), worker="w1", lease=LEASE, limit=2, now=now)

    assert [r.pk for r in claimed] == [rows[0].pk, rows[1].pk]
    assert {(r.claimed_by, r.lease_expires_at) for r in claimed} == {
        ("w1", now + LEASE)
    }
    rows[2].refresh_from_db()
    assert rows[2].claimed_by == ""


def test_claim_leased_rows_are_skipped_by_the_next_worker():
    _rows(3)
    first = claim(Workflow.objects.all(), worker="w1", lease=LEASE, limit=2)

    second = claim(Workflow.objects.all(), worker="w2", lease=LEASE, limit=5)

    assert len(second) == 1
    assert {r.pk for r in first}.isdisjoint(r.pk for r in second)
    assert claim(Workflow.objects.all(), worker="w3", lease=LEASE, limit=5) == []


def test_claim_expired_lease_is_reclaimed_by_another_worker():
    (row,) = _rows(1)
    start = timezone.now()
    claim(Workflow.objects.all(), worker="dead", lease=LEASE, limit=1, now=start)

    still_held = claim(
        Workflow.objects.all(),
        worker="alive",
        lease=LEASE,
        limit=1,
        now=start + LEASE - timedelta(seconds=1),
    )
    taken_over = claim(
        Workflow.objects.all(),
        worker="alive",
        lease=LEASE,
        limit=1,
        now=start + LEASE + timedelta(seconds=1),
    )

    assert still_held == []
    assert [r.pk for r in taken_over] == [row.pk]
    row.refresh_from_db()
    assert row.claimed_by == "alive"


def test_claim_respects_the_querysets_filter_and_writes_also_set():
    keep, take = _rows(2)

    (claimed,) = claim(
        Workflow.objects.filter(pk=take.pk),
        worker="w1",
        lease=LEASE,
        limit=5,
        last_error="claimed for a test",
    )

    assert claimed.pk == take.pk
    assert claimed.last_error == "claimed for a test"
    keep.refresh_from_db()
    assert (keep.claimed_by, keep.last_error) == ("", "")


def test_worker_id_differs_per_call():
    assert worker_id() != worker_id()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_claim_concurrent_workers_never_claim_the_same_row():
    _rows(60)
    workers = 6
    barrier = threading.Barrier(workers)
    claimed: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            barrier.wait(timeout=10)
            mine: list[int] = []
            while batch := claim(
                Workflow.objects.all(), worker=name, lease=LEASE, limit=3
            ):
                mine += [r.pk for r in batch]
            claimed[name] = mine
        except BaseException as exc:  # surfaced in the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    every_claim = [pk for pks in claimed.values() for pk in pks]
    assert len(every_claim) == len(set(every_claim)) == 60
    # The rows' owners are the workers that say they claimed them.
    owner = dict(Workflow.objects.values_list("pk", "claimed_by"))
    assert all(owner[pk] == name for name, pks in claimed.items() for pk in pks)
