"""A Celery worker process started by the test suite: test settings, real broker."""

from .test import *
from .test import DATABASES, EMAIL_BACKEND, env

CELERY_TASK_ALWAYS_EAGER = False
# The test runner hands over the test database by URL; never create another.
DATABASES["default"] = env.db("DATABASE_URL")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}

# Worker tests that need a failing mail server set this (tests/core/test_tasks.py).
EMAIL_BACKEND = env("WORKER_TEST_EMAIL_BACKEND", default=EMAIL_BACKEND)

# The test suite gives each worker a queue of its own; tasks this worker
# queues itself (a notification after finalising an order) go there too.
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_TASK_DEFAULT_QUEUE", default="celery")

# Test-only hooks a worker test loads into this process: a moved clock
# (tests/worker_clock.py), a Stripe stand-in (tests/dunning/worker_stripe.py).
CELERY_IMPORTS = env.list("WORKER_TEST_IMPORTS", default=[])
