"""stripe_dev_setup: dj-stripe's API key and webhook endpoint, idempotently."""

import io

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


def test_stripe_dev_setup_against_real_stripe_creates_endpoint_via_gateway(
    settings, monkeypatch
):
    # Gateway-level fake: localstripe has no Webhook Endpoints API, and tests
    # never reach api.stripe.com.
    settings.STRIPE_API_HOST = "https://api.stripe.com"
    created = []

    def fake_webhook_endpoint_create(*, url, metadata, idempotency_key, **kwargs):
        created.append(url)
        return {
            "id": "we_real123",
            "object": "webhook_endpoint",
            "api_version": None,
            "application": None,
            "created": 1_700_000_000,
            "description": None,
            "enabled_events": ["*"],
            "livemode": False,
            "metadata": metadata,
            "secret": "whsec_from_stripe",
            "status": "enabled",
            "url": url,
        }

    monkeypatch.setattr(
        gateway, "webhook_endpoint_create", fake_webhook_endpoint_create
    )

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
