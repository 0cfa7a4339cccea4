"""The signature header, in the style of Stripe's ``Stripe-Signature``.

``Shop-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``.
The README's verification recipe is the receiving half of this.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "Shop-Signature"
EVENT_ID_HEADER = "Shop-Event-Id"
EVENT_TYPE_HEADER = "Shop-Event-Type"
SECRET_PREFIX = "whsec_"  # noqa: S105  a prefix, not a secret


def secret_new() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(*, secret: str, timestamp: int, body: str) -> str:
    """Return the header value for ``body`` sent at ``timestamp``."""
    signed = f"{timestamp}.{body}".encode()
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"
