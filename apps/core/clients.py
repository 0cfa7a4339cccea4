"""Who is asking: the client address behind the shop's own proxies.

Rate limits, idempotency scopes and the audit log key anonymous clients by
address. Behind a load balancer REMOTE_ADDR is the balancer, so every guest
would share one bucket; X-Forwarded-For is trusted for exactly
TRUSTED_PROXY_COUNT hops (the same count allauth uses for its own limits),
so a client cannot pick its own address by sending the header itself.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from django.http import HttpRequest


def _clean(candidate: str) -> str | None:
    candidate = candidate.strip()
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str:
    """Return the client's IP address ("" when none can be known)."""
    hops = settings.TRUSTED_PROXY_COUNT
    forwarded = request.headers.get("x-forwarded-for", "")
    if hops > 0 and forwarded:
        entries = forwarded.split(",")
        # Fewer entries than proxies: the request did not come through them
        # all, so the header is the client's own words.
        if len(entries) >= hops:
            address = _clean(entries[-hops])
            if address:
                return address
    return _clean(request.META.get("REMOTE_ADDR", "")) or ""
