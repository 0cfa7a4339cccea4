import hashlib
import time
import uuid
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.internal import ratelimit as allauth_ratelimit
from django.contrib.sites.shortcuts import get_current_site
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from apps.core.logging import get_request_id
from apps.core.notifications import notification_enqueue

# Set on the request when allauth refuses a login for too many failures; the
# RetryAfterMiddleware turns it into a `Retry-After` header.
RETRY_AFTER_ATTR = "allauth_retry_after"


class AccountAdapter(DefaultAccountAdapter):
    """Route allauth's mails through the notification path (sent once per key)."""

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        """Render allauth's mail and hand it to the notification path.

        The idempotency key covers the template, the recipient, the rendered
        body and the request id: the same mail rendered twice while serving
        one request (or a client retrying with the same X-Request-ID) is one
        notification, while a resend the user asks for later is a new one,
        even when its body is identical (allauth's HMAC confirmation keys
        are). A redelivered Celery task re-sends nothing: delivery claims
        the row (see apps.core.notifications.notification_deliver).
        """
        request = self.request
        ctx = {"email": email, "request": request}
        if request is not None:
            ctx["current_site"] = get_current_site(request)
        ctx.update(context)
        message = self.render_mail(template_prefix, email, ctx)
        html = ""
        for content, mimetype in getattr(message, "alternatives", []):
            if mimetype == "text/html":
                html = content
        occasion = get_request_id() or uuid.uuid4().hex
        digest = hashlib.sha256(
            "\n".join([template_prefix, email, message.body, occasion]).encode()
        ).hexdigest()
        notification_enqueue(
            kind="account." + template_prefix.rsplit("/", 1)[-1],
            recipient=email,
            idempotency_key=f"allauth:{template_prefix}:{digest}",
            subject=message.subject,
            body_text=message.body,
            body_html=html,
        )

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        try:
            super().pre_authenticate(request, **credentials)
        except ValidationError:
            setattr(
                request,
                RETRY_AFTER_ATTR,
                self._login_failed_retry_after(request, **credentials),
            )
            raise

    def _login_failed_retry_after(
        self, request: HttpRequest, **credentials: Any
    ) -> int:
        """Seconds until the oldest counted failure leaves allauth's window."""
        key = self._get_login_attempts_cache_key(request, **credentials)
        rates = allauth_ratelimit.get_rates(
            app="allauth.account", action="login_failed"
        )
        now = time.time()
        wait = 0.0
        for rate in rates:
            cache_key = allauth_ratelimit.get_cache_key(
                request,
                app="allauth.account",
                action="login_failed",
                rate=rate,
                key=key,
            )
            history = cache.get(cache_key, [])
            if len(history) >= rate.amount:
                # history is newest first; the slot frees when the amount-th
                # newest hit expires.
                wait = max(wait, history[rate.amount - 1] + rate.duration - now)
        return max(1, int(wait + 0.999)) if wait else 60
