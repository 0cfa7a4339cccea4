"""No webhooks to private, loopback or link-local addresses in production."""

import json
import socket

import pytest

from apps.core.outbox import outbox_publish, outbox_relay
from apps.webhooks.exceptions import DestinationRefused
from apps.webhooks.models import Delivery
from apps.webhooks.services import endpoint_create
from apps.webhooks.services.destinations import destination_check
from tests.core.test_production import _production_environ, _run_python

pytestmark = pytest.mark.django_db


@pytest.fixture
def production_like(settings):
    """What production.py forces, whatever the environment says."""
    settings.WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS = False


@pytest.fixture
def resolves_to(monkeypatch):
    """Make every host name resolve to the given address (no DNS in tests)."""

    def set_address(address: str) -> None:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET

        def fake_getaddrinfo(host, port, *args, **kwargs):
            return [(family, socket.SOCK_STREAM, 6, "", (address, port or 443))]

        monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)

    return set_address


def test_production_settings_refuse_private_destinations_even_if_env_allows():
    env = _production_environ()
    env["WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS"] = "true"
    out = _run_python(
        "from config.settings import production\n"
        "print(production.WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS)",
        env,
    )
    assert out == "False"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hooks",
        "http://10.1.2.3/hooks",
        "https://192.168.0.10/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hooks",
        "http://[::ffff:10.0.0.1]/hooks",
        "http://0.0.0.0/",
        "http://localhost:8000/",
    ],
)
def test_endpoint_on_private_address_is_refused_in_production(production_like, url):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as exc:
        endpoint_create(url=url, event_types=["order.*"])
    assert exc.value.code == "webhook_destination_refused"


def test_host_resolving_to_private_address_is_refused(production_like, resolves_to):
    resolves_to("10.0.0.7")
    with pytest.raises(DestinationRefused) as exc:
        destination_check("https://hooks.example.com/")
    assert exc.value.details == {"address": "10.0.0.7"}


def test_host_resolving_to_public_address_is_accepted(production_like, resolves_to):
    resolves_to("93.184.216.34")
    endpoint, _secret = endpoint_create(
        url="https://hooks.example.com/", event_types=["order.*"]
    )
    assert endpoint.pk


def test_non_http_scheme_is_refused_even_when_private_is_allowed():
    with pytest.raises(DestinationRefused):
        destination_check("file:///etc/passwd")


def test_send_to_address_that_became_private_is_refused_without_a_request(
    receiver, settings, run_beat
):
    # Saved while allowed (as a name that resolved publicly then), sent when
    # the destination is a loopback address: nothing reaches the receiver.
    endpoint, _secret = endpoint_create(url=receiver.url, event_types=["order.*"])
    settings.WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS = False
    outbox_publish(topic="order.paid", payload={})
    outbox_relay()
    run_beat()

    delivery = Delivery.objects.get()
    assert delivery.status == "failed"
    assert "127.0.0.1" in delivery.last_error
    assert receiver.requests == []
    assert endpoint.pk == delivery.endpoint_id


def test_connected_peer_is_checked_after_resolution(
    receiver, settings, run_beat, monkeypatch
):
    """DNS rebinding: the save-time check passed, the connection goes to loopback."""
    endpoint_create(url=receiver.url, event_types=["order.*"])
    settings.WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS = False
    # The name check is fooled (a rebinding DNS answer); the peer check is not.
    monkeypatch.setattr(
        "apps.webhooks.services.sending.destination_check", lambda url: None
    )
    outbox_publish(topic="order.paid", payload={})
    outbox_relay()
    run_beat()

    delivery = Delivery.objects.get()
    assert delivery.status == "failed"
    assert "not a public address" in delivery.last_error
    assert receiver.requests == []
    assert json.loads(delivery.body)["type"] == "order.paid"
