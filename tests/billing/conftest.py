"""Billing fixtures: a webhook-ready dj-stripe and a recorder for signals."""

import io
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command


def wait_for(predicate: Callable[[], Any], timeout: float = 60.0) -> Any:
    """Poll predicate until it returns something truthy; fail after timeout.

    60 s, as the worker tests wait: on a 2-CPU machine running both CI passes
    side by side, localstripe's webhook delivery has taken over 30 s.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s")
        time.sleep(0.1)


@pytest.fixture
def webhooks_to_live_server(localstripe, live_server, transactional_db):
    """Run stripe_dev_setup so localstripe posts events to this live server."""
    from djstripe.models import WebhookEndpoint

    call_command("stripe_dev_setup", site_url=live_server.url, stdout=io.StringIO())
    return WebhookEndpoint.objects.get()


class SignalRecorder:
    def __init__(self):
        self.calls: list[dict[str, Any]] = []

    def __call__(self, sender, **kwargs):
        kwargs.pop("signal", None)
        self.calls.append({"sender": sender, **kwargs})


@pytest.fixture
def record_signal():
    """Connect a recorder to a signal for the duration of the test."""
    connected = []

    def connect(signal):
        recorder = SignalRecorder()
        signal.connect(recorder, weak=False)
        connected.append((signal, recorder))
        return recorder

    yield connect
    for signal, recorder in connected:
        signal.disconnect(recorder)
