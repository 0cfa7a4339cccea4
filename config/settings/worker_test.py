"""A Celery worker process started by the test suite: test settings, real broker."""

from .test import *
from .test import DATABASES, EMAIL_BACKEND, env

CELERY_TASK_ALWAYS_EAGER = False
# The test runner hands over the test database by URL; never create another.
DATABASES["default"] = env.db("DATABASE_URL")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
else:  # as the test process does (config/settings/test.py)
    DATABASES["default"]["OPTIONS"] = {"options": "-c synchronous_commit=off"}

# Worker tests that need a failing mail server set this (tests/core/test_tasks.py).
EMAIL_BACKEND = env("WORKER_TEST_EMAIL_BACKEND", default=EMAIL_BACKEND)

# The test suite gives each worker a queue of its own; tasks this worker
# queues itself (a notification after finalising an order) go there too.
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_TASK_DEFAULT_QUEUE", default="celery")

# Test-only modules a worker test loads into this process: a saga's hang
# points (tests/subscriptions/saga_worker_hooks.py), a moved clock
# (tests/worker_clock.py), a Stripe stand-in (tests/dunning/worker_stripe.py).
CELERY_IMPORTS = env.list("WORKER_TEST_IMPORTS", default=[])

# A test that kills a worker starts the next one with a short visibility
# timeout, so Redis hands the dead worker's unacknowledged task back within
# seconds instead of kombu's hour; restores are checked every second.
if _visibility := env.int("WORKER_TEST_VISIBILITY_TIMEOUT", default=0):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": _visibility,
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }
