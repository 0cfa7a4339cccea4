"""Wire dj-stripe to the configured Stripe server; safe to run on every start.

- the dj-stripe APIKey row for the configured secret key;
- one dj-stripe WebhookEndpoint row for <SITE_URL>/stripe/webhook/<uuid>/;
- against localstripe: register that URL and STRIPE_WEBHOOK_SECRET through
  POST {STRIPE_API_HOST}/_config/webhooks/<name> (localstripe forgets it on
  restart, hence every start);
- against real Stripe: create the endpoint through the API once and keep the
  secret Stripe returns.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.urls import reverse
from djstripe.enums import WebhookEndpointStatus
from djstripe.models import APIKey, WebhookEndpoint

from apps.billing import gateway
from apps.billing.exceptions import PaymentProviderError, TransientError


def webhook_url(site_url: str, endpoint_uuid: uuid.UUID | str) -> str:
    path = reverse("djstripe:djstripe_webhook_by_uuid", kwargs={"uuid": endpoint_uuid})
    return site_url.rstrip("/") + path


class Command(BaseCommand):
    help = "Create dj-stripe's API key and webhook endpoint; register it."

    def add_arguments(self, parser):
        parser.add_argument(
            "--site-url",
            default=None,
            help="public base URL Stripe posts webhooks to (default: SITE_URL)",
        )

    def handle(self, *args, site_url=None, **options):
        site_url = (site_url or settings.SITE_URL).rstrip("/")
        livemode = bool(settings.STRIPE_LIVE_MODE)
        key = gateway.secret_key()
        if not key:
            raise CommandError("No Stripe secret key configured.")

        api_key, created = APIKey.objects.get_or_create_by_api_key(key)
        self.stdout.write(
            f"{'Created' if created else 'Found'} dj-stripe API key "
            f"{api_key.secret_redacted}"
        )

        try:
            if gateway.is_localstripe():
                endpoint = self._localstripe_endpoint(site_url, livemode)
            else:
                endpoint = self._stripe_endpoint(site_url, livemode)
        except (PaymentProviderError, TransientError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Webhook endpoint: {endpoint.url}")

    def _existing(self, site_url: str, livemode: bool) -> WebhookEndpoint | None:
        prefix = webhook_url(site_url, uuid.UUID(int=0)).rsplit("/", 2)[0] + "/"
        return (
            WebhookEndpoint.objects.filter(url__startswith=prefix, livemode=livemode)
            .order_by("djstripe_created")
            .first()
        )

    def _localstripe_endpoint(self, site_url: str, livemode: bool) -> WebhookEndpoint:
        secret = settings.STRIPE_WEBHOOK_SECRET
        with transaction.atomic():
            endpoint = self._existing(site_url, livemode)
            if endpoint is None:
                endpoint_uuid = uuid.uuid4()
                endpoint = WebhookEndpoint(
                    id=f"we_local_{endpoint_uuid.hex[:20]}",
                    djstripe_uuid=endpoint_uuid,
                    livemode=livemode,
                    enabled_events=["*"],
                    status=WebhookEndpointStatus.enabled,
                    url=webhook_url(site_url, endpoint_uuid),
                    secret=secret,
                    metadata={"djstripe_uuid": str(endpoint_uuid)},
                )
                endpoint.save()
                self.stdout.write("Created dj-stripe webhook endpoint")
            elif endpoint.secret != secret:
                endpoint.secret = secret
                endpoint.save(update_fields=["secret"])
        gateway.localstripe_webhook_register(
            name=endpoint.id, url=endpoint.url, secret=secret
        )
        self.stdout.write(
            f"Registered the webhook with localstripe at {gateway.api_host()}"
        )
        return endpoint

    def _stripe_endpoint(self, site_url: str, livemode: bool) -> WebhookEndpoint:
        endpoint = self._existing(site_url, livemode)
        if endpoint is not None:
            return endpoint
        endpoint_uuid = uuid.uuid4()
        url = webhook_url(site_url, endpoint_uuid)
        data = gateway.webhook_endpoint_create(
            url=url,
            metadata={"djstripe_uuid": str(endpoint_uuid)},
            idempotency_key=f"stripe-dev-setup-{endpoint_uuid}",
        )
        # Stored directly rather than through sync_from_stripe_data, which
        # would make more API calls; Stripe shows the secret only here.
        endpoint = WebhookEndpoint.objects.create(
            id=data.id,
            djstripe_uuid=endpoint_uuid,
            livemode=data.livemode,
            enabled_events=list(data.enabled_events),
            status=data.status,
            url=data.url,
            secret=data.secret,
            api_version=data.api_version,
            metadata=dict(data.metadata),
        )
        self.stdout.write("Created the webhook endpoint on Stripe")
        return endpoint
