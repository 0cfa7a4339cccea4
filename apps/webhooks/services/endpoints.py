"""Endpoints: registered by staff, disabled after too many dead deliveries."""

from __future__ import annotations

import re
from collections.abc import Iterable
from fnmatch import fnmatchcase

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from apps.core.notifications import notification_enqueue_template
from apps.webhooks.exceptions import DestinationRefused
from apps.webhooks.models import Endpoint
from apps.webhooks.services.destinations import destination_check
from apps.webhooks.services.signing import secret_new

# "order.*", "invoice.paid", or "*" for every event.
_PATTERN = re.compile(r"^(\*|[a-z_]+(\.[a-z_]+)*(\.\*)?)$")


def event_types_clean(patterns: Iterable[str]) -> list[str]:
    """Return the patterns stripped and deduplicated.

    Raise ValidationError for an empty list or a malformed pattern.
    """
    cleaned = list(dict.fromkeys(p.strip() for p in patterns if p.strip()))
    if not cleaned:
        raise ValidationError("Choose at least one event type.", code="required")
    bad = [p for p in cleaned if not _PATTERN.match(p)]
    if bad:
        raise ValidationError(
            "Not an event type pattern: %(bad)s (use e.g. order.* or invoice.paid).",
            code="invalid",
            params={"bad": ", ".join(bad)},
        )
    return cleaned


def endpoint_matches(endpoint: Endpoint, topic: str) -> bool:
    return any(fnmatchcase(topic, pattern) for pattern in endpoint.event_types)


def url_clean(url: str) -> str:
    """Return ``url`` if webhooks may go there; raise ValidationError if not."""
    try:
        destination_check(url)
    except DestinationRefused as exc:
        raise ValidationError(exc.message, code=exc.code) from exc
    return url


@transaction.atomic
def endpoint_create(
    *,
    url: str,
    event_types: Iterable[str],
    description: str = "",
    is_active: bool = True,
) -> tuple[Endpoint, str]:
    """Register an endpoint; return it and its secret (shown to staff once).

    Raise ValidationError for a refused URL or bad event types.
    """
    secret = secret_new()
    endpoint = Endpoint(
        url=url_clean(url),
        event_types=event_types_clean(event_types),
        description=description,
        is_active=is_active,
        secret=secret,
    )
    endpoint.full_clean()
    endpoint.save()
    return endpoint, secret


@transaction.atomic
def endpoint_update(
    *,
    endpoint_id: int,
    url: str,
    event_types: Iterable[str],
    description: str,
    is_active: bool,
) -> Endpoint:
    """Change an endpoint. Turning it back on clears the dead-delivery count.

    Raise ValidationError for a refused URL or bad event types.
    """
    endpoint = Endpoint.objects.select_for_update().get(pk=endpoint_id)
    reactivated = is_active and not endpoint.is_active
    endpoint.url = url_clean(url)
    endpoint.event_types = event_types_clean(event_types)
    endpoint.description = description
    endpoint.is_active = is_active
    fields = ["url", "event_types", "description", "is_active", "updated_at"]
    if reactivated:
        endpoint.consecutive_dead_count = 0
        endpoint.disabled_reason = ""
        endpoint.disabled_at = None
        fields += ["consecutive_dead_count", "disabled_reason", "disabled_at"]
    endpoint.full_clean()
    endpoint.save(update_fields=fields)
    return endpoint


@transaction.atomic
def endpoint_secret_rotate(*, endpoint_id: int) -> tuple[Endpoint, str]:
    """Give the endpoint a new secret; return it (shown to staff once)."""
    endpoint = Endpoint.objects.select_for_update().get(pk=endpoint_id)
    endpoint.secret = secret_new()
    endpoint.save(update_fields=["secret", "updated_at"])
    return endpoint, endpoint.secret


def endpoint_delivery_succeeded(*, endpoint_id: int) -> None:
    """Reset the run of dead deliveries (in the caller's transaction)."""
    Endpoint.objects.filter(pk=endpoint_id, consecutive_dead_count__gt=0).update(
        consecutive_dead_count=0, updated_at=timezone.now()
    )


def endpoint_delivery_dead(*, endpoint_id: int) -> Endpoint:
    """Count a dead delivery; disable the endpoint and tell staff at the limit.

    Runs in the caller's transaction (the delivery's move to dead).
    """
    endpoint = Endpoint.objects.select_for_update().get(pk=endpoint_id)
    endpoint.consecutive_dead_count += 1
    fields = ["consecutive_dead_count", "updated_at"]
    limit = settings.WEBHOOKS_DISABLE_AFTER_DEAD
    if endpoint.is_active and endpoint.consecutive_dead_count >= limit:
        endpoint.is_active = False
        endpoint.disabled_at = timezone.now()
        endpoint.disabled_reason = (
            f"{endpoint.consecutive_dead_count} deliveries in a row went dead."
        )
        fields += ["is_active", "disabled_at", "disabled_reason"]
        _email_staff_disabled(endpoint)
    endpoint.save(update_fields=fields)
    return endpoint


def staff_alert_recipients() -> list[str]:
    """WEBHOOKS_ALERT_EMAILS, else every active staff user's address."""
    configured = list(settings.WEBHOOKS_ALERT_EMAILS)
    if configured:
        return configured
    users = get_user_model().objects.filter(is_staff=True, is_active=True)
    return sorted({u.email for u in users.exclude(email="")})


def _email_staff_disabled(endpoint: Endpoint) -> None:
    disabled_at = endpoint.disabled_at or timezone.now()
    admin_path = reverse("admin:webhooks_endpoint_change", args=[endpoint.pk])
    for recipient in staff_alert_recipients():
        notification_enqueue_template(
            kind="webhooks.endpoint_disabled",
            recipient=recipient,
            idempotency_key=(
                f"webhooks.endpoint_disabled:{endpoint.pk}:"
                f"{disabled_at.isoformat()}:{recipient}"
            ),
            template_prefix="webhooks/email/endpoint_disabled",
            context={
                "endpoint": endpoint,
                "url": settings.SITE_URL.rstrip("/") + admin_path,
            },
        )
