"""Settings shared by every environment; local, test and production adjust them.

Every external service is chosen by environment variables. With none set, the
shop runs embedded: SQLite, local-memory cache, eager Celery and localstripe.
"""

from pathlib import Path
from typing import Any

import environ
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
if env.bool("DJANGO_READ_DOT_ENV", default=False):
    environ.Env.read_env(BASE_DIR / ".env")

SECRET_KEY = env("DJANGO_SECRET_KEY", default="insecure-dev-key-change-me-" + "x" * 32)
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env("SITE_URL", default="http://localhost:8000")
SITE_ID = 1

INSTALLED_APPS = [
    "apps.core.admin_site.ShopAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # Flat pages (About, Terms...) edited in admin; flatpages needs sites.
    "django.contrib.sites",
    "django.contrib.flatpages",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # Service-to-service API keys (licence verify, usage batch): hashed keys,
    # prefix lookup, expiry and revocation, managed in admin.
    "rest_framework_api_key",
    "allauth",
    "allauth.account",
    "allauth.headless",
    "djstripe",
    "django_celery_beat",
    "import_export",
    "csp",
    # Keeps each app's migration history linear (max_migration.txt per app).
    "django_linear_migrations",
    "apps.core",
    "apps.accounts",
    "apps.inventory",
    "apps.coupons",
    "apps.wallets",
    "apps.carts",
    "apps.billing",
    "apps.checkout",
    "apps.subscriptions",
    "apps.dunning",
    "apps.analytics",
]

MIDDLEWARE = [
    "apps.core.middleware.RequestIdMiddleware",
    # Before anything that may look a value up: NUL bytes never reach a query.
    "apps.core.middleware.BadInputMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "apps.core.csp.CSPMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.core.context_processors.site",
            ],
            "builtins": ["apps.core.templatetags.money"],
        },
    }
]

# --- Database -------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
}
ATOMIC_REQUESTS = False
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Concurrent webhook deliveries fail with "database is locked" without a
    # busy timeout and IMMEDIATE transactions (writers queue instead of racing).
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DJANGO_CONN_MAX_AGE", 60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, Celery and rate limits: Redis when REDIS_URL is set --------------
REDIS_URL = env("REDIS_URL", default="")


def redis_caches(url: str) -> dict:
    """The cache on Redis; unreachable Redis reads as a miss (apps.core.cache)."""
    return {
        "default": {
            "BACKEND": "apps.core.cache.FailOpenRedisCache",
            "LOCATION": url,
            "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"},
        }
    }


if REDIS_URL:
    CACHES = redis_caches(REDIS_URL)
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = False
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "shop-default",
        }
    }
    CELERY_BROKER_URL = "memory://"
    CELERY_RESULT_BACKEND = "cache+memory://"
    # Embedded default only: no broker, so tasks run in-process.
    CELERY_TASK_ALWAYS_EAGER = True
    CELERY_TASK_EAGER_PROPAGATES = False
# Publishing a task subscribes to its result on the result backend first, and
# Celery's default policy retries a lost Redis 20 times a second apart: with
# Redis down a request that queues a task would hang for 19 s before the
# queueing code (apps.core.queue) could log "not queued" and answer. Give up
# within about a second, as the broker publish does.
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {
    "retry_policy": {
        "max_retries": 3,
        "interval_start": 0,
        "interval_step": 0.2,
        "interval_max": 0.5,
    }
}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "core.clear_expired_sessions": {
        "task": "core.clear_expired_sessions",
        "schedule": 60 * 60,
    },
    "core.purge_idempotency_records": {
        "task": "core.purge_idempotency_records",
        "schedule": 60 * 60,
    },
    "core.requeue_stuck_notifications": {
        "task": "core.requeue_stuck_notifications",
        "schedule": 5 * 60,
    },
    # The outbox relay also runs after each commit; beat catches events whose
    # after-commit task was never queued (broker down, process killed).
    "core.relay_outbox": {
        "task": "core.relay_outbox",
        "schedule": 60,
    },
    # Failed steps (apps.core.workflows) whose next attempt is due.
    "core.retry_workflows": {
        "task": "core.retry_workflows",
        "schedule": 60,
    },
    # inventory: expire lapsed stock holds (availability ignores them already).
    "inventory.expire_reservations": {
        "task": "inventory.expire_reservations",
        "schedule": 60,
    },
}

# Rate limits (apps.core.ratelimit): per signed-in account, else per client
# address. "N/m", "N/5m", "N/h". Counted in the default cache; with the cache
# down they fail open and log a warning at most once per interval.
CHECKOUT_RATE = env("CHECKOUT_RATE", default="50/5m")
CHECKOUT_PAYMENT_RATE = env("CHECKOUT_PAYMENT_RATE", default="10/5m")
COUPON_APPLY_RATE = env("COUPON_APPLY_RATE", default="10/m")
ACCOUNT_WRITE_RATE = env("ACCOUNT_WRITE_RATE", default="30/m")
ACCOUNT_LOGIN_FAILED_RATE = env("ACCOUNT_LOGIN_FAILED_RATE", default="5/5m")
RATE_LIMIT_WARNING_INTERVAL = 60

# --- Auth -----------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"  # noqa: E501
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "accounts:profile"

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False

# --- i18n / static ----------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_URL = "/media/"
MEDIA_ROOT = BASE_DIR / "media"
# Pillow's WebP effort for product picture renditions (0 fastest .. 6 smallest):
# made once per upload, so the default favours smaller files.
PRODUCT_IMAGE_WEBP_METHOD = 4

# --- Email ----------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Shop <shop@example.com>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Stripe ---------------------------------------------------------------
# The default host is the local fake Stripe server (localstripe) that
# `make run` and the test suite start; real test keys plus
# STRIPE_API_HOST=https://api.stripe.com talk to Stripe itself.
LOCALSTRIPE_PORT = env.int("LOCALSTRIPE_PORT", default=8420)
STRIPE_API_HOST = env("STRIPE_API_HOST", default=f"http://127.0.0.1:{LOCALSTRIPE_PORT}")
STRIPE_JS_URL = env("STRIPE_JS_URL", default=f"{STRIPE_API_HOST}/js.stripe.com/v3/")
STRIPE_LIVE_MODE = env.bool("STRIPE_LIVE_MODE", default=False)
# dj-stripe rejects test keys that are not sk_test_ + 24 or more characters.
STRIPE_TEST_SECRET_KEY = env(
    "STRIPE_TEST_SECRET_KEY", default="sk_test_" + "0" * 24 + "localstripe"
)
STRIPE_TEST_PUBLIC_KEY = env(
    "STRIPE_TEST_PUBLIC_KEY", default="pk_test_" + "0" * 24 + "localstripe"
)
STRIPE_LIVE_SECRET_KEY = env("STRIPE_LIVE_SECRET_KEY", default="")
STRIPE_LIVE_PUBLIC_KEY = env("STRIPE_LIVE_PUBLIC_KEY", default="")
STRIPE_WEBHOOK_SECRET = env(
    "STRIPE_WEBHOOK_SECRET", default="whsec_localstripe_dev_secret"
)
DJSTRIPE_FOREIGN_KEY_TO_FIELD = "id"
DJSTRIPE_USE_NATIVE_JSONFIELD = True
DJSTRIPE_WEBHOOK_VALIDATION = "verify_signature"

# --- DRF / OpenAPI ----------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.api.authentication.AllauthJWTAuthentication",
        "apps.core.api.authentication.CsrfSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    # Counts only views that declare `rate_limits` (apps.core.ratelimit).
    "DEFAULT_THROTTLE_CLASSES": ["apps.core.ratelimit.RateLimitThrottle"],
    "DEFAULT_PAGINATION_CLASS": "apps.core.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "apps.core.api.exception_handler.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "apps.core.api.schema.ShopAutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Shop API",
    "DESCRIPTION": (
        "Mobile and browser API. Amounts are integer minor units. Every error "
        "is the ErrorEnvelope; each operation lists the codes it can answer. "
        "Mobile clients send `Authorization: Bearer <access token>` from "
        "allauth headless, whose own endpoints (sign-up, login, tokens) are "
        "described in [its OpenAPI specification](/_allauth/openapi.html)."
    ),
    "EXTERNAL_DOCS": {
        "description": "Authentication endpoints (allauth headless)",
        "url": "/_allauth/openapi.html",
    },
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- allauth --------------------------------------------------------------
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
# Signup never says whether an address is registered: a new and a known
# address both get "check your inbox" (the owner of the known one is mailed
# that someone tried). allauth can only answer both alike when nobody is
# signed in before verifying, hence mandatory verification; the link signs
# the shopper in (same browser), so a checkout carries on.
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED = False
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_ADAPTER = "apps.accounts.adapter.AccountAdapter"
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Shop] "
# How many proxies in front of the shop append to X-Forwarded-For (a load
# balancer: 1). Rate limits, idempotency and the audit log use the address
# that many hops back; 0 means REMOTE_ADDR. allauth's own limits agree.
TRUSTED_PROXY_COUNT = env.int("DJANGO_TRUSTED_PROXY_COUNT", default=0)
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT
ACCOUNT_RATE_LIMITS = {
    # Wrong passwords per account are counted by apps.core.ratelimit
    # (ACCOUNT_LOGIN_FAILED_RATE), which knows the time left for Retry-After.
    "login_failed": False,
    "login": "30/m/ip",
    "signup": "20/m/ip",
    "confirm_email": "1/3m/key",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
}
HEADLESS_CLIENTS = ("app", "browser")
# /_allauth/openapi.{html,json,yaml}: the auth endpoints' own specification,
# linked from the shop's schema.
HEADLESS_SERVE_SPECIFICATION = True
HEADLESS_TOKEN_STRATEGY = "allauth.headless.tokens.strategies.jwt.JWTTokenStrategy"  # noqa: S105
HEADLESS_JWT_PRIVATE_KEY = env.str(
    "HEADLESS_JWT_PRIVATE_KEY", multiline=True, default=""
)
# An access token dies with its session: signing out on a shared or lost
# phone must not leave a token that still buys for up to its lifetime. Costs
# one session lookup per API request (a cache hit with cached_db sessions).
HEADLESS_JWT_STATEFUL_VALIDATION_ENABLED = True
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
# local.py and test.py fall back to a generated development key;
# production.py requires the variable.
# Relative on purpose: allauth completes them on the requesting host, so the
# links in mails work behind any host name (and on the tests' live server).
HEADLESS_FRONTEND_URLS = {
    "account_confirm_email": "/accounts/confirm-email/{key}/",
    "account_reset_password_from_key": "/accounts/password/reset/key/{key}/",
    "account_signup": "/accounts/signup/",
}

# --- Security -------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
REFERRER_POLICY = "same-origin"

# --- Logging --------------------------------------------------------------
LOG_JSON = env.bool("DJANGO_LOG_JSON", default=False)
LOG_LEVEL = env("DJANGO_LOG_LEVEL", default="INFO")
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "apps.core.logging.RequestIdFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
        },
        "plain": {
            "format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": "json" if LOG_JSON else "plain",
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "stripe": {"level": "WARNING"},
    },
}

SPECTACULAR_SETTINGS.update(
    {
        # Several models have a "status"; name each choice set for its model.
        "ENUM_NAME_OVERRIDES": {
            "SubscriptionStatusEnum": "apps.subscriptions.models.SubscriptionStatus",
            "InvoiceStatusEnum": "apps.subscriptions.models.Invoice.Status",
        },
        # Served from our own static files: the CSP allows no CDN.
        "SWAGGER_UI_DIST": "SIDECAR",
        "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
        "REDOC_DIST": "SIDECAR",
    }
)


def _origin(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(*, stripe_js_url: str, stripe_api_host: str) -> dict:
    """Build the CSP: Stripe.js is the only external script.

    Scripts come only from Stripe.js's origin; the API origin is reachable by
    the script (connect-src), and 3-D Secure frames come from Stripe.js's
    origin and hooks.stripe.com. Both origins come from settings, so
    localstripe's fake Stripe.js works in development and js.stripe.com in
    production.
    """
    js_origin = _origin(stripe_js_url)
    api_origin = _origin(stripe_api_host)
    return {
        "DIRECTIVES": {
            "default-src": ["'self'"],
            "script-src": ["'self'", js_origin],
            "connect-src": ["'self'", *sorted({js_origin, api_origin})],
            "frame-src": ["'self'", js_origin, "https://hooks.stripe.com"],
            "img-src": ["'self'", "data:"],
            "style-src": ["'self'", "'unsafe-inline'"],
            "font-src": ["'self'", "data:"],
            "object-src": ["'none'"],
            "base-uri": ["'self'"],
            "form-action": ["'self'"],
            "frame-ancestors": ["'none'"],
        }
    }


CONTENT_SECURITY_POLICY = content_security_policy(
    stripe_js_url=STRIPE_JS_URL, stripe_api_host=STRIPE_API_HOST
)

# --- accounts: allauth headless rate limits answer 429 with Retry-After -------
MIDDLEWARE += ["apps.accounts.middleware.AllauthRateLimitMiddleware"]

# --- Carts and coupons (apps.carts, apps.coupons) ---------------------------
# The header's cart count (request.cart_count) is set lazily: one query when
# a page renders it, none for the API.
MIDDLEWARE += ["apps.carts.middleware.CartCountMiddleware"]
CART_DEFAULT_CURRENCY = env("CART_DEFAULT_CURRENCY", default="USD")
# The currencies a cart may be opened in: a client cannot open a cart in a
# currency nothing is priced in and only find out at the first add.
CART_CURRENCIES = [
    c.upper() for c in env.list("CART_CURRENCIES", default=["USD", "EUR", "GBP"])
]
CART_MAX_LINE_QUANTITY = env.int("CART_MAX_LINE_QUANTITY", default=99)
CART_MAX_LINES = env.int("CART_MAX_LINES", default=100)
CART_ABANDON_AFTER_DAYS = env.int("CART_ABANDON_AFTER_DAYS", default=7)
CART_DELETE_ANONYMOUS_AFTER_DAYS = env.int(
    "CART_DELETE_ANONYMOUS_AFTER_DAYS", default=30
)
CART_TAX_RATES: list[tuple[str, int]] = []  # estimated on the cart; (name, bp)
# wallets: staff adjustments above this (minor units) need an explicit confirm.
WALLET_ADJUSTMENT_CONFIRM_ABOVE_MINOR = env.int(
    "WALLET_ADJUSTMENT_CONFIRM_ABOVE_MINOR", default=10_000
)
# Days a new gift card stays valid; 0 means it never expires.
GIFT_CARD_EXPIRY_DAYS = env.int("GIFT_CARD_EXPIRY_DAYS", default=0)
GIFT_CARD_CHECK_RATE = env("GIFT_CARD_CHECK_RATE", default="10/5m")
# wallets: gift card codes go out on their send date.
CELERY_BEAT_SCHEDULE["wallets.send_due_gift_cards"] = {
    "task": "wallets.send_due_gift_cards",
    "schedule": 5 * 60,
}
# wallets: nightly check that every balance equals the sum of its ledger.
CELERY_BEAT_SCHEDULE["wallets.reconcile"] = {
    "task": "wallets.reconcile",
    "schedule": crontab(hour=3, minute=30),
}
CELERY_BEAT_SCHEDULE["carts.expire_carts"] = {
    "task": "carts.expire_carts",
    "schedule": 60 * 60 * 6,
}

# --- checkout: finalise paid orders whose webhook task was lost (broker down).
CELERY_BEAT_SCHEDULE["checkout.finalize_stuck_payments"] = {
    "task": "checkout.finalize_stuck_payments",
    "schedule": 5 * 60,
}
# An order still awaiting payment after this many minutes is cancelled (its
# intent re-checked and cancelled at Stripe first, its stock hold released).
CHECKOUT_PENDING_ORDER_MAX_AGE = env.int("CHECKOUT_PENDING_ORDER_MAX_AGE", default=60)
CELERY_BEAT_SCHEDULE["checkout.cancel_abandoned_orders"] = {
    "task": "checkout.cancel_abandoned_orders",
    "schedule": 10 * 60,
}
# subscriptions: downgrades scheduled for the period end are applied when due.
CELERY_BEAT_SCHEDULE["subscriptions.apply_scheduled_changes"] = {
    "task": "subscriptions.apply_scheduled_changes",
    "schedule": 5 * 60,
}
# subscriptions: nightly comparison of live subscriptions and invoices with Stripe.
CELERY_BEAT_SCHEDULE["subscriptions.billing_reconcile"] = {
    "task": "subscriptions.billing_reconcile",
    "schedule": crontab(hour=4, minute=15),
}

# The shop's main market: first in the shipping country list (issue 17).
SHOP_MAIN_COUNTRY = env("SHOP_MAIN_COUNTRY", default="US")

# --- Outgoing webhooks (apps.webhooks) --------------------------------------
INSTALLED_APPS += ["apps.webhooks"]
# Private, loopback and link-local destinations are refused unless this is on
# (tests and local receivers); production.py forces it off.
WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS = env.bool(
    "WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS", default=False
)
WEBHOOKS_TIMEOUT_SECONDS = env.float("WEBHOOKS_TIMEOUT_SECONDS", default=10.0)
WEBHOOKS_MAX_ATTEMPTS = env.int("WEBHOOKS_MAX_ATTEMPTS", default=12)
WEBHOOKS_RETRY_WINDOW_HOURS = env.int("WEBHOOKS_RETRY_WINDOW_HOURS", default=72)
# Doubling from 2 minutes, capped at a day, ±20 % jitter: 12 attempts span
# about the 3-day window.
WEBHOOKS_RETRY_BASE_SECONDS = env.int("WEBHOOKS_RETRY_BASE_SECONDS", default=120)
WEBHOOKS_RETRY_MAX_DELAY_SECONDS = env.int(
    "WEBHOOKS_RETRY_MAX_DELAY_SECONDS", default=24 * 60 * 60
)
WEBHOOKS_MAX_BODY_BYTES = env.int("WEBHOOKS_MAX_BODY_BYTES", default=256 * 1024)
# An endpoint is switched off after this many dead deliveries in a row.
WEBHOOKS_DISABLE_AFTER_DEAD = env.int("WEBHOOKS_DISABLE_AFTER_DEAD", default=5)
# Who hears of a disabled endpoint; empty means every active staff user.
WEBHOOKS_ALERT_EMAILS = env.list("WEBHOOKS_ALERT_EMAILS", default=[])
CELERY_BEAT_SCHEDULE["webhooks.send_due_deliveries"] = {
    "task": "webhooks.send_due_deliveries",
    "schedule": 60,
}

# --- dunning (issue 15): failed renewals retried on the shop's own schedule.
# Due actions (retries, emails, grace end, final action) are rows claimed with
# a lease; a worker that died mid-action is reaped by the same task.
CELERY_BEAT_SCHEDULE["dunning.run_due_actions"] = {
    "task": "dunning.run_due_actions",
    "schedule": 5 * 60,
}

# --- subscriptions: licence keys and the guest subscribe flow (issue 14) ------
# The plan feature that says how many devices one licence key serves, and the
# count when a plan does not set it.
LICENCE_SEATS_FEATURE = env("LICENCE_SEATS_FEATURE", default="devices")
LICENCE_DEFAULT_SEATS = env.int("LICENCE_DEFAULT_SEATS", default=1)
# Verify calls per service API key (apps.core.ratelimit group licence-verify).
LICENCE_VERIFY_RATE = env("LICENCE_VERIFY_RATE", default="600/m")
# Guest purchases per client address (group subscribe-guest).
SUBSCRIBE_GUEST_RATE = env("SUBSCRIBE_GUEST_RATE", default="10/10m")
# Grace periods end by the clock: suspend their keys without waiting for Stripe.
CELERY_BEAT_SCHEDULE["subscriptions.licences_follow_grace_expiry"] = {
    "task": "subscriptions.licences_follow_grace_expiry",
    "schedule": 10 * 60,
}
# Guest purchases paid but never confirmed back (tab closed, webhook lost).
CELERY_BEAT_SCHEDULE["subscriptions.subscribe_flows_check_unconfirmed"] = {
    "task": "subscriptions.subscribe_flows_check_unconfirmed",
    "schedule": 5 * 60,
}

# --- Operations: metrics, beat heartbeat (apps.core.metrics, .heartbeat) ------
# django-prometheus times every request; its Before/After middlewares wrap
# the whole stack, so they go first and last.
INSTALLED_APPS += ["django_prometheus"]
MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    *MIDDLEWARE,
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]
# Usage ingest (issue 14) runs through a second handler (config/wsgi.py,
# apps.core.lean_handler) without these: static files, flash messages, the
# CSRF cookie (DRF's SessionAuthentication checks CSRF itself), allauth's
# account redirects and headless rate-limit answers, the cart count. None
# acts on a JSON call to these paths; without them an event took 3.8
# instead of 4.2 ms of CPU in-process. Security headers, sessions, request
# ids, bad-input answers and metrics stay.
LEAN_API_PREFIXES = ("/api/v1/usage/",)
LEAN_API_SKIPPED_MIDDLEWARE = [
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "apps.accounts.middleware.AllauthRateLimitMiddleware",
    "apps.carts.middleware.CartCountMiddleware",
]
# /metrics answers a scraper that sends `Authorization: Bearer <token>` or
# comes from an allowed address or network; with neither set it refuses all.
METRICS_BEARER_TOKEN = env("METRICS_BEARER_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=[])
# Celery queues whose length /metrics reports (Redis broker only); empty
# means the default queue.
METRICS_CELERY_QUEUES = env.list("METRICS_CELERY_QUEUES", default=[])
# /readyz answers 503 when beat's heartbeat task last ran longer ago.
BEAT_HEARTBEAT_MAX_AGE = env.int("BEAT_HEARTBEAT_MAX_AGE", default=10 * 60)
CELERY_BEAT_SCHEDULE["core.beat_heartbeat"] = {
    "task": "core.beat_heartbeat",
    "schedule": 60,
}
# Worker and beat log through LOGGING above (JSON in production, each line
# with the request id of the web request that queued the task), not through
# Celery's own plain-text root handler.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- subscriptions: usage metering (issue 14) --------------------------------
# Raw usage events and counters older than 13 months are deleted nightly.
CELERY_BEAT_SCHEDULE["subscriptions.prune_usage"] = {
    "task": "subscriptions.prune_usage",
    "schedule": crontab(hour=3, minute=45),
}
# Metered overage goes to Stripe as invoice items within the hour before a
# period ends, so the renewal invoice carries it (idempotent per period).
CELERY_BEAT_SCHEDULE["subscriptions.push_usage_overage"] = {
    "task": "subscriptions.push_usage_overage",
    "schedule": 15 * 60,
}

# --- subscriptions: trial reminders (issue 13) ---------------------------------
# Trials ending within 3 days get their reminder email (once per trial end);
# localstripe never sends customer.subscription.trial_will_end.
CELERY_BEAT_SCHEDULE["subscriptions.send_trial_reminders"] = {
    "task": "subscriptions.send_trial_reminders",
    "schedule": 60 * 60,
}

# --- analytics (apps.analytics): nightly recomputation of the last days ------
# Late webhooks change recent history, so each night rebuilds this many days
# up to yesterday (UTC), replacing their rows.
ANALYTICS_RECOMPUTE_DAYS = env.int("ANALYTICS_RECOMPUTE_DAYS", default=3)
CELERY_BEAT_SCHEDULE["analytics.nightly_run"] = {
    "task": "analytics.nightly_run",
    "schedule": crontab(
        hour=env.int("ANALYTICS_NIGHTLY_HOUR", default=2),
        minute=env.int("ANALYTICS_NIGHTLY_MINUTE", default=0),
    ),
}
# Totals across currencies use analytics.ExchangeRate into this currency.
ANALYTICS_REPORTING_CURRENCY = env("ANALYTICS_REPORTING_CURRENCY", default="USD")
# seed_demo's analytics history (seed_analytics_history) spans this many days.
ANALYTICS_DEMO_DAYS = env.int("ANALYTICS_DEMO_DAYS", default=365)
# analytics: last week's key figures to staff, Monday 07:00 UTC.
CELERY_BEAT_SCHEDULE["analytics.weekly_summary"] = {
    "task": "analytics.weekly_summary",
    "schedule": crontab(day_of_week="mon", hour=7, minute=0),
}
# analytics: dashboard and API reads of analytics tables go to a read replica
# when one is configured (apps.analytics.routers); the job writes on primary.
if env("DATABASE_REPLICA_URL", default=""):
    DATABASES["replica"] = env.db("DATABASE_REPLICA_URL")
DATABASE_ROUTERS = [
    *globals().get("DATABASE_ROUTERS", []),
    "apps.analytics.routers.AnalyticsReplicaRouter",
]
