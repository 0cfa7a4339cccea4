"""A live subscription on localstripe, its failed renewal, and beat runs.

Celery is eager here: ``beat`` calls the beat task the way the scheduler
would, inside ``django_capture_on_commit_callbacks`` so the emails and
follow-up tasks it queues after commit run too. The same paths in a real
worker process, at moved times, are in test_worker.py (the services pass).
"""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command

from apps.dunning import tasks
from apps.dunning.models import DunningCase
from apps.subscriptions import services as subscription_services
from tests.accounts.factories import UserFactory
from tests.subscriptions.conftest import (
    confirm,
    pushed_price,  # noqa: F401
)

DAY = timedelta(days=1)


@pytest.fixture
def active(pushed_price, django_capture_on_commit_callbacks):  # noqa: F811
    """A subscription paid with 4242 4242 4242 4242, as a subscriber starts one.

    The after-commit effects run too, so it has its licence key like a real one.
    """
    start = subscription_services.subscription_create(
        user=UserFactory(), price_id=pushed_price(amount=1200).pk
    )
    confirm(start.client_secret)
    with django_capture_on_commit_callbacks(execute=True):
        return subscription_services.subscription_sync(
            stripe_id=start.subscription.stripe_id
        )


@pytest.fixture
def beat(django_capture_on_commit_callbacks):
    def run() -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return tasks.run_due_actions()

    return run


@pytest.fixture
def fail_renewal(django_capture_on_commit_callbacks):
    """Run `billing_simulate_renewal --fail` and return the case it opened."""

    def run(sub, card: str) -> DunningCase:
        with django_capture_on_commit_callbacks(execute=True):
            call_command(
                "billing_simulate_renewal", subscription=sub.pk, fail=True, card=card
            )
        return DunningCase.objects.get(subscription=sub)

    return run


def subjects(prefix: str = "") -> list[str]:
    return [m.subject for m in mail.outbox if m.subject.startswith(prefix)]


def licence_statuses(sub) -> list[str]:
    """The statuses of the subscription's licence keys, oldest first."""
    from apps.subscriptions.models import LicenceKey

    return list(
        LicenceKey.objects.filter(subscription_id=sub.pk)
        .order_by("pk")
        .values_list("status", flat=True)
    )


def entitled(sub) -> bool:
    """Whether entitlements_for (cache included) grants the owner the plan now."""
    from apps.accounts.models import User
    from apps.subscriptions.entitlements import entitlements_for

    ents = entitlements_for(User.objects.get(pk=sub.user_id))
    return ents.granted and ents.plan_slug == sub.price.plan.slug
