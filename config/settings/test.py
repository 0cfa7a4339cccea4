"""Test run: fast hashing, in-memory mail, and a reusable test database."""

from .base import *
from .base import BASE_DIR, CACHES, DATABASES, HEADLESS_JWT_PRIVATE_KEY, REDIS_URL, env

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# As the hasher: the suite makes hundreds of renditions (the demo catalogue
# alone 160); effort 0 encodes them 2.7 times faster, files 30 % larger.
PRODUCT_IMAGE_WEBP_METHOD = 0
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
SITE_URL = "http://testserver"
ALLOWED_HOSTS = ["*"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file (not :memory:) so --reuse-db can skip dj-stripe's ~40 s of
    # migrations, and so live-server threads and subprocesses see one database.
    DATABASES["default"]["TEST"] = {
        "NAME": env(
            "DJANGO_TEST_DB_NAME", default=str(BASE_DIR / "var" / "test-db.sqlite3")
        )
    }
else:
    # Commits need not wait for the WAL to reach the disk: a crash of the
    # test server loses nothing a test needs, and the services pass commits
    # thousands of times (transactional tests, Celery workers).
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
        "-c synchronous_commit=off"
    )
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Tests run tasks in-process by default; tests marked `worker` switch to the
# real broker and a real worker process (see tests/conftest.py).
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True

if REDIS_URL:
    # pytest-xdist workers (and the Celery workers they start, which inherit
    # the variable) share one Redis database: each keeps to its own keys, so
    # one worker clearing its cache between tests leaves the others' alone.
    CACHES["default"]["KEY_PREFIX"] = env("PYTEST_XDIST_WORKER", default="")

if not HEADLESS_JWT_PRIVATE_KEY:
    from config.settings.devkeys import dev_jwt_private_key

    HEADLESS_JWT_PRIVATE_KEY = dev_jwt_private_key(
        BASE_DIR / "var" / "dev-jwt-private-key.pem"
    )

# Test receivers listen on 127.0.0.1; tests of the refusal turn this off.
WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS = True

# analytics: seed_demo's simulated history is a fortnight in tests (a year of
# nightly computations would make every seed_demo test slow).
ANALYTICS_DEMO_DAYS = 14
