"""A Celery worker process started by the test suite: test settings, real broker."""

from .test import *
from .test import DATABASES, env

CELERY_TASK_ALWAYS_EAGER = False
# The test runner hands over the test database by URL; never create another.
DATABASES["default"] = env.db("DATABASE_URL")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
