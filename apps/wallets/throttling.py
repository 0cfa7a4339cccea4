"""Gift-card code guessing is limited per client address and per account.

Counting only the account would let one client rotate through fresh
sign-ups; counting only the address would let one account spread its
guesses over many addresses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from apps.core import ratelimit
from apps.core.clients import client_ip

if TYPE_CHECKING:
    from django.http import HttpRequest

GROUP = "gift-card"


def gift_card_limit_hit(request: HttpRequest) -> ratelimit.Usage | None:
    """Count one attempt against each key; return the first usage over limit."""
    keys = [f"ip:{client_ip(request)}"]
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        keys.append(f"user:{user.pk}")
    hit = None
    for key in keys:
        used = ratelimit.usage(request, GROUP, key=key)
        if hit is None and used is not None and used.limited:
            hit = used
    return hit
