"""A moved clock for a real Celery worker process (test-only).

time_machine moves the clock of the process it runs in, and a worker started
by the suite (tests/conftest.py) is another process. A worker test that needs
the worker at the test's moment sets WORKER_TEST_IMPORTS=tests.worker_clock
and WORKER_TEST_CLOCK_FILE in the worker's environment (``worker_clock_env``);
each task the worker then runs travels with time_machine to the moment the
test last set with ``worker_clock_set``, plus the real time elapsed since
(both clocks tick together, as time_machine's ``move_to`` does in the test
process), and comes back when the task ends, so Celery's and kombu's own
bookkeeping between tasks (acks, visibility timeouts) stays on the real
clock. Everything the task does reads the moved clock: ``timezone.now()``,
auto_now stamps, leases, grace checks.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ENV = "WORKER_TEST_CLOCK_FILE"


def worker_clock_env(path: Path) -> dict[str, str]:
    return {"WORKER_TEST_IMPORTS": "tests.worker_clock", ENV: str(path)}


def worker_clock_set(path: Path, moment: datetime) -> None:
    """Make the worker's clock read ``moment`` now, ticking on from there."""
    from time_machine import escape_hatch

    # The real time: the test process's own clock is moved by time_machine.
    real_now = escape_hatch.time.time()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{moment.isoformat()} {real_now!r}")
    os.replace(tmp, path)  # atomic: a task never reads half a timestamp


_travel: Any = None


def _travel_start(**kwargs: Any) -> None:
    global _travel
    path = Path(os.environ[ENV])
    if not path.exists():
        return
    import time_machine

    moment, set_at = path.read_text().split()
    elapsed = timedelta(seconds=time.time() - float(set_at))
    _travel = time_machine.travel(datetime.fromisoformat(moment) + elapsed, tick=True)
    _travel.start()


def _travel_stop(**kwargs: Any) -> None:
    global _travel
    if _travel is not None:
        _travel.stop()
        _travel = None


if os.environ.get(ENV):  # only in a worker started with it, never in the suite
    from celery.signals import task_postrun, task_prerun

    task_prerun.connect(_travel_start, weak=False)
    task_postrun.connect(_travel_stop, weak=False)
