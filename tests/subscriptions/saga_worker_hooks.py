"""Hang points for guest saga tests that kill a Celery worker mid-step.

A worker started with ``WORKER_TEST_IMPORTS=tests.subscriptions.saga_worker_hooks``
imports this module. ``SAGA_TEST_HANG_FLAG`` names a file touched when the
worker reaches the hang point, so the test knows when to kill it; the worker
then sleeps until it is killed.

- ``SAGA_TEST_HANG_AT=subscription``: the subscription step stops after it
  committed our Subscription row (and linked it to the flow) but before it
  applied Stripe's state and marked itself done.
- ``WORKER_TEST_EMAIL_BACKEND`` set to this module's ``HangingEmailBackend``:
  the welcome email's send hangs after the notification was claimed
  (``sending``, under its lease) and before it was handed to the mail server.
"""

import os
import time
from pathlib import Path

from django.core.mail.backends.base import BaseEmailBackend


def _hang() -> None:
    Path(os.environ["SAGA_TEST_HANG_FLAG"]).touch()
    time.sleep(3600)


class HangingEmailBackend(BaseEmailBackend):
    """A mail server that takes the connection and never answers."""

    def send_messages(self, email_messages):
        _hang()


if os.environ.get("SAGA_TEST_HANG_AT") == "subscription":
    from apps.subscriptions.services import guest_steps

    def _hang_before_apply(**kwargs):
        _hang()

    guest_steps.subscription_apply = _hang_before_apply
