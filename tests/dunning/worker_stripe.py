"""Stripe stand-ins for dunning tests in a real worker process (test-only).

A worker test loads this into its worker through WORKER_TEST_IMPORTS
(config/settings/worker_test.py) and reads what it records in Redis under
the prefix it gave (``StripeLog``).

DUNNING_FAKE_STRIPE=<prefix>
    ``invoices.pay`` is replaced by a fake: 100 localstripe renewals would be
    slow, and what is under test is the claim, not Stripe. It keeps Stripe's
    idempotency contract (a key charges once; a repeat gets the first answer,
    here always a soft decline), and records every call in ``<prefix>:calls``
    as "<key> <pid>" and each key charged in ``<prefix>:charged``. The invoice
    read-back is skipped: the factories' invoices exist nowhere. Each worker
    process's first call waits (60 s at most) until another worker process
    has called too, so two workers are provably inside a batch at once.

DUNNING_HOLD_STRIPE=<prefix>
    The real ``invoices.pay`` runs (localstripe, with the action's idempotency
    key); then the process pushes the key to ``<prefix>:reached`` and blocks:
    a worker that has Stripe's answer and has not recorded it yet. The test
    SIGKILLs it there.
"""

from __future__ import annotations

import os
import time
from typing import Any

import redis

FAKE = "DUNNING_FAKE_STRIPE"
HOLD = "DUNNING_HOLD_STRIPE"
MEET_TIMEOUT = 60.0


def _redis() -> redis.Redis:
    return redis.Redis.from_url(os.environ["REDIS_URL"], decode_responses=True)


class StripeLog:
    """The test process's view of what the stand-ins recorded."""

    def __init__(self, redis_url: str, prefix: str) -> None:
        self.redis = redis.Redis.from_url(redis_url, decode_responses=True)
        self.prefix = prefix

    def calls(self) -> list[tuple[str, int]]:
        rows = self.redis.lrange(f"{self.prefix}:calls", 0, -1)
        return [(key, int(pid)) for key, pid in (row.split() for row in rows)]

    def charged(self) -> set[str]:
        return set(self.redis.smembers(f"{self.prefix}:charged"))

    def reached(self) -> list[str]:
        return list(self.redis.lrange(f"{self.prefix}:reached", 0, -1))

    def release(self) -> None:
        self.redis.rpush(f"{self.prefix}:release", "go")

    def clear(self) -> None:
        for suffix in ("calls", "charged", "workers", "reached", "release"):
            self.redis.delete(f"{self.prefix}:{suffix}")


def _fake_invoice_pay(prefix: str) -> Any:
    from apps.billing.exceptions import PaymentDeclined

    met = False

    def invoice_pay(*, invoice_id: str, idempotency_key: str) -> Any:
        nonlocal met
        r = _redis()
        r.rpush(f"{prefix}:calls", f"{idempotency_key} {os.getpid()}")
        r.sadd(f"{prefix}:charged", idempotency_key)
        if not met:
            met = True
            r.sadd(f"{prefix}:workers", os.getpid())
            deadline = time.monotonic() + MEET_TIMEOUT
            while r.scard(f"{prefix}:workers") < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
        raise PaymentDeclined(
            "Your card was declined.", details={"decline_code": "insufficient_funds"}
        )

    return invoice_pay


def _held_invoice_pay(prefix: str, real: Any) -> Any:
    def invoice_pay(*, invoice_id: str, idempotency_key: str) -> Any:
        try:
            return real(invoice_id=invoice_id, idempotency_key=idempotency_key)
        finally:
            r = _redis()
            r.rpush(f"{prefix}:reached", idempotency_key)
            r.blpop([f"{prefix}:release"], timeout=600)

    return invoice_pay


def _install() -> None:
    from apps.billing.gateway import invoices
    from apps.dunning.services import steps

    if os.environ.get(FAKE):
        invoices.invoice_pay = _fake_invoice_pay(os.environ[FAKE])
        steps._sync = lambda case: None  # the factories' invoices exist nowhere
    if os.environ.get(HOLD):
        invoices.invoice_pay = _held_invoice_pay(os.environ[HOLD], invoices.invoice_pay)


if os.environ.get(FAKE) or os.environ.get(HOLD):  # only in a worker started so
    _install()
