"""Errors of outgoing webhooks."""

from apps.core.exceptions import ApplicationError, Conflict


class DestinationRefused(ApplicationError):
    """The URL is not one the shop will send webhooks to (private address…)."""

    default_code = "webhook_destination_refused"


class EndpointInactive(Conflict):
    default_code = "webhook_endpoint_inactive"
