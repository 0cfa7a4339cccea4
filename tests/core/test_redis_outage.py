"""Redis down (cache, rate limits and broker): the shop degrades, never 500s.

REDIS_URL points at a closed port: the cache is built by the same function
the settings use, and Celery publishes to the same dead address (not eager).
"""

import logging

import pytest
from django.core import mail

from config.settings.base import redis_caches
from tests.accounts.factories import PASSWORD, UserFactory
from tests.carts.factories import CartLineFactory
from tests.conftest import free_port

pytestmark = pytest.mark.django_db

APP = "/_allauth/app/v1"


@pytest.fixture
def redis_down(settings):
    from config.celery import app

    saved = (  # before settings move
        app.conf.broker_url,
        app.conf.task_always_eager,
        app.conf.result_backend,
    )
    dead = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    settings.REDIS_URL = dead
    settings.CACHES = redis_caches(dead)
    settings.CELERY_BROKER_URL = dead
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.broker_url = dead
    # Production stores results in the same Redis; its backend subscribes
    # while publishing and fails in its own way.
    app.conf.result_backend = dead
    app.conf.task_always_eager = False
    _fresh_connection_pools(app)  # none still connected to a live broker
    try:
        yield dead
    finally:
        (
            app.conf.broker_url,
            app.conf.task_always_eager,
            app.conf.result_backend,
        ) = saved
        _fresh_connection_pools(app)


def _fresh_connection_pools(app):
    # Dropped, not closed: a closed pool refuses to hand out connections.
    app._pool = None
    app.amqp._producer_pool = None
    app._local.__dict__.pop("backend", None)


def test_redis_down_sign_in_sign_up_coupon_and_checkout_answer_without_500(
    redis_down, client, api_client, django_capture_on_commit_callbacks, caplog
):
    user = UserFactory(email="known@example.com", verified_email=True)
    cart = CartLineFactory().cart
    caplog.set_level(logging.WARNING)

    with django_capture_on_commit_callbacks(execute=True):
        page_login = client.post(
            "/accounts/login/", {"login": user.email, "password": PASSWORD}
        )
        headless_login = client.post(
            f"{APP}/auth/login",
            {"email": user.email, "password": PASSWORD},
            content_type="application/json",
        )
        page_signup = client.post(
            "/accounts/signup/",
            {"email": "new@example.com", "password1": PASSWORD, "password2": PASSWORD},
        )
        headless_signup = client.post(
            f"{APP}/auth/signup",
            {"email": "new2@example.com", "password": PASSWORD},
            content_type="application/json",
        )
        coupon = api_client.post(
            f"/api/v1/carts/{cart.pk}/coupons/", {"code": "NOPE"}, format="json"
        )
        checkout = api_client.post(
            "/api/v1/checkouts/",
            {"cart": str(cart.pk), "email": "guest@example.com"},
            format="json",
        )
    ready = client.get("/readyz")

    answers = {
        "page login": page_login.status_code,
        "headless login": headless_login.status_code,
        "page signup": page_signup.status_code,
        "headless signup": headless_signup.status_code,
        "coupon apply": coupon.status_code,
        "checkout create": checkout.status_code,
    }
    assert all(200 <= code < 500 for code in answers.values()), answers
    assert page_login.status_code == 302  # signed in
    assert headless_login.status_code == 200
    assert checkout.status_code == 201
    assert coupon.json()["error"]["code"] != "server_error"
    # The outage stays visible to the load balancer and to operators.
    assert ready.status_code == 503
    # Beat's heartbeat lives in the cache: with Redis down it cannot be read.
    assert set(ready.json()["failed"]) == {"cache", "broker", "beat"}
    # The verification mails were not queued (broker down) but are recorded
    # for the sweeper, and nothing was sent in the request.
    from apps.core.models import Notification

    assert Notification.objects.filter(status=Notification.Status.PENDING).count() >= 1
    assert mail.outbox == []
    assert any("not queued" in r.getMessage() for r in caplog.records)
