"""Production: secrets have no defaults, so a missing one stops the boot."""

from .base import *
from .base import (
    INSTALLED_APPS,
    LOGGING,
    STRIPE_API_HOST,
    content_security_policy,
    env,
)

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
HEADLESS_JWT_PRIVATE_KEY = env.str("HEADLESS_JWT_PRIVATE_KEY", multiline=True)

# --- Stripe: real Stripe unless STRIPE_API_HOST points elsewhere (staging) ---
STRIPE_LIVE_MODE = env.bool("STRIPE_LIVE_MODE", default=False)
if STRIPE_LIVE_MODE:
    STRIPE_LIVE_SECRET_KEY = env("STRIPE_LIVE_SECRET_KEY")
    STRIPE_LIVE_PUBLIC_KEY = env("STRIPE_LIVE_PUBLIC_KEY")
else:
    STRIPE_TEST_SECRET_KEY = env("STRIPE_TEST_SECRET_KEY")
    STRIPE_TEST_PUBLIC_KEY = env("STRIPE_TEST_PUBLIC_KEY")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET")
_api_host = env("STRIPE_API_HOST", default="")
if _api_host:
    STRIPE_API_HOST = _api_host
else:
    # dj-stripe warns (djstripe.W002) when the setting exists in production;
    # without it the stripe library talks to api.stripe.com.
    del STRIPE_API_HOST
STRIPE_JS_URL = env("STRIPE_JS_URL", default="https://js.stripe.com/v3/")
CONTENT_SECURITY_POLICY = content_security_policy(
    stripe_js_url=STRIPE_JS_URL,
    stripe_api_host=_api_host or "https://api.stripe.com",
)

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
LOG_JSON = True
LOGGING["handlers"]["console"]["formatter"] = "json"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# A real mail provider through django-anymail when ANYMAIL_ESP is set
# (e.g. "postmark", "mailgun", "amazon_ses").
if env("ANYMAIL_ESP", default=""):
    INSTALLED_APPS = [*INSTALLED_APPS, "anymail"]
    EMAIL_BACKEND = f"anymail.backends.{env('ANYMAIL_ESP')}.EmailBackend"
    ANYMAIL = {"API_KEY": env("ANYMAIL_API_KEY")}

# Outgoing webhooks never reach private, loopback or link-local addresses in
# production, whatever the environment says.
WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS = False
