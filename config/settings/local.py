"""Developer laptop: debug on, console email, everything else from base."""

from .base import *
from .base import BASE_DIR, HEADLESS_JWT_PRIVATE_KEY, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"]
)

if not HEADLESS_JWT_PRIVATE_KEY:
    from config.settings.devkeys import dev_jwt_private_key

    HEADLESS_JWT_PRIVATE_KEY = dev_jwt_private_key(
        BASE_DIR / "var" / "dev-jwt-private-key.pem"
    )

# /metrics from this machine only, no token: a developer's own Prometheus or
# curl, and the load tests (loadtests/) read it. Other addresses are refused
# as in production.
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"])
