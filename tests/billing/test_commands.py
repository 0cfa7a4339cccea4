"""stripe_dev_setup: dj-stripe's API key and webhook endpoint, idempotently."""

import io
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs

import pytest
from django.core.management import CommandError, call_command
from djstripe.models import APIKey, WebhookEndpoint

from apps.billing import gateway

pytestmark = pytest.mark.django_db


def run_setup(**options) -> str:
    out = io.StringIO()
    call_command("stripe_dev_setup", stdout=out, **options)
    return out.getvalue()


@pytest.mark.localstripe
def test_stripe_dev_setup_against_localstripe_creates_key_and_endpoint(
    localstripe, settings
):
    run_setup(site_url="http://shop.test:8000/")

    key = APIKey.objects.get()
    assert key.secret == settings.STRIPE_TEST_SECRET_KEY
    assert key.livemode is False
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.url == (
        f"http://shop.test:8000/stripe/webhook/{endpoint.djstripe_uuid}/"
    )
    assert endpoint.secret == settings.STRIPE_WEBHOOK_SECRET
    assert endpoint.livemode is False


@pytest.mark.localstripe
def test_stripe_dev_setup_run_twice_keeps_one_key_and_endpoint(localstripe):
    run_setup(site_url="http://shop.test:8000")
    first = WebhookEndpoint.objects.get()

    output = run_setup(site_url="http://shop.test:8000")

    assert APIKey.objects.count() == 1
    assert WebhookEndpoint.objects.get().djstripe_uuid == first.djstripe_uuid
    assert "Found dj-stripe API key" in output
    assert "Registered the webhook with localstripe" in output


@pytest.mark.localstripe
def test_stripe_dev_setup_changed_secret_updates_endpoint(localstripe, settings):
    run_setup(site_url="http://shop.test:8000")
    settings.STRIPE_WEBHOOK_SECRET = "whsec_rotated"

    run_setup(site_url="http://shop.test:8000")

    assert WebhookEndpoint.objects.get().secret == "whsec_rotated"


@pytest.mark.localstripe
def test_stripe_dev_setup_localstripe_refuses_registration_raises_command_error(
    localstripe, settings
):
    settings.STRIPE_WEBHOOK_SECRET = ""  # localstripe needs a url and a secret

    with pytest.raises(CommandError, match="refused the webhook registration"):
        run_setup(site_url="http://shop.test:8000")


@pytest.fixture
def fake_stripe_webhook_api(monkeypatch):
    """Answer POST /v1/webhook_endpoints as api.stripe.com does.

    localstripe has no Webhook Endpoints API and tests never reach Stripe, so
    a stub HTTP server stands in for that one endpoint; the real stripe
    library still parses the answer into a stripe.WebhookEndpoint, which is
    what the command must cope with.
    """
    created: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            form = parse_qs(
                self.rfile.read(int(self.headers["Content-Length"])).decode()
            )
            created.append(form["url"][0])
            body = json.dumps(
                {
                    "id": "we_real123",
                    "object": "webhook_endpoint",
                    "api_version": None,
                    "application": None,
                    "created": 1_700_000_000,
                    "description": None,
                    "enabled_events": ["*"],
                    "livemode": False,
                    "metadata": {"djstripe_uuid": form["metadata[djstripe_uuid]"][0]},
                    "secret": "whsec_from_stripe",
                    "status": "enabled",
                    "url": form["url"][0],
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stub = f"http://127.0.0.1:{server.server_port}"
    monkeypatch.setattr(
        "apps.billing.gateway.webhooks._client",
        lambda: gateway._client_for(gateway.secret_key(), stub),
    )
    yield created
    server.shutdown()


def test_stripe_dev_setup_against_real_stripe_creates_endpoint_via_gateway(
    settings, fake_stripe_webhook_api
):
    settings.STRIPE_API_HOST = "https://api.stripe.com"
    created = fake_stripe_webhook_api

    run_setup(site_url="https://shop.example.com")
    run_setup(site_url="https://shop.example.com")

    endpoint = WebhookEndpoint.objects.get()
    assert len(created) == 1
    assert endpoint.id == "we_real123"
    assert endpoint.secret == "whsec_from_stripe"
    assert endpoint.url == created[0]
    assert created[0] == (
        f"https://shop.example.com/stripe/webhook/{endpoint.djstripe_uuid}/"
    )
