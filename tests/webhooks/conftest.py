import socket

import pytest

from apps.webhooks.services import endpoint_create
from apps.webhooks.tasks import send_due_deliveries
from tests.webhooks.receiver import Receiver, serve


@pytest.fixture
def receiver():
    """A receiver answering 200; set ``receiver.statuses`` to script failures."""
    rec = Receiver(statuses=[200])
    server = serve(rec)
    yield rec
    server.shutdown()
    server.server_close()


@pytest.fixture
def endpoint_for(db):
    def make(url: str, types: tuple[str, ...] = ("order.*",)):
        endpoint, secret = endpoint_create(url=url, event_types=types)
        return endpoint, secret

    return make


@pytest.fixture
def run_beat(django_capture_on_commit_callbacks):
    """Run the beat task and the sends it queues (eager Celery)."""

    def run() -> None:
        with django_capture_on_commit_callbacks(execute=True):
            send_due_deliveries()

    return run


@pytest.fixture
def closed_port_url():
    """A loopback URL nobody listens on: connection refused at once."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/hooks"
