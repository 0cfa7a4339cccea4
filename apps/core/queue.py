"""Queue Celery tasks after commit, surviving a broker outage.

The broker is the same Redis as the cache. A request whose rows are already
committed must not fail because the task that follows them cannot be
published: the failure is logged and the work is left to its sweeper, which
finds it from the database once the broker is back (notifications:
``core.requeue_stuck_notifications``; payments: ``checkout.finalize_stuck_payments``).
"""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING, Any

from django.db import transaction
from kombu.exceptions import OperationalError

if TYPE_CHECKING:
    from celery import Task

logger = logging.getLogger(__name__)

# One quick retry: with the broker down a request should not wait for
# Celery's default back-off before it answers.
_PUBLISH_RETRY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}


def enqueue_on_commit(task: Task, *args: Any, **kwargs: Any) -> None:
    """Publish ``task(*args, **kwargs)`` once the current transaction commits."""
    transaction.on_commit(partial(_publish, task, args, kwargs))


def _publish(task: Task, args: tuple, kwargs: dict) -> None:
    try:
        task.apply_async(args=args, kwargs=kwargs, retry_policy=_PUBLISH_RETRY)
    except (OperationalError, OSError) as exc:
        _not_queued(task, args, exc)
    except Exception as exc:
        # The Redis result backend subscribes for the result while publishing
        # and, with Redis down, gives up with a bare RuntimeError: still only
        # "not queued", which the sweeper repairs. Never a 500 after commit.
        _not_queued(task, args, exc)


def _not_queued(task: Task, args: tuple, exc: BaseException) -> None:
    logger.warning(
        "broker unavailable, %s%s not queued (its sweeper will pick it up): %r",
        task.name,
        args,
        exc,
    )
