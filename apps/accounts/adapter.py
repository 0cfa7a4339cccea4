import hashlib
import uuid
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.contrib.sites.shortcuts import get_current_site
from django.http import HttpRequest

from apps.core import ratelimit
from apps.core.logging import get_request_id
from apps.core.notifications import notification_enqueue

# Set on the request when allauth refuses a login for too many failures; the
# AllauthRateLimitMiddleware turns it into a `Retry-After` header.
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
        """Refuse every password for an account with too many recent failures.

        Counted per address typed (ACCOUNT_LOGIN_FAILED_RATE), whoever types
        it, so a guesser spreading over addresses gains nothing; the right
        password is refused too while the window lasts.
        """
        super().pre_authenticate(request, **credentials)
        used = ratelimit.peek(request, "login-failed", key=_login_key(credentials))
        if used is not None and used.count >= used.limit:
            setattr(request, RETRY_AFTER_ATTR, used.time_left)
            raise self.validation_error("too_many_login_attempts")

    def authentication_failed(self, request: HttpRequest, **credentials: Any) -> None:
        super().authentication_failed(request, **credentials)
        ratelimit.usage(request, "login-failed", key=_login_key(credentials))


def _login_key(credentials: dict[str, Any]) -> str:
    login = credentials.get("email") or credentials.get("username") or ""
    return "login:" + str(login).strip().lower()
