"""Metered overage reaches the renewal invoice on localstripe, once."""

import pytest
from django.core.management import call_command

from apps.subscriptions import services
from apps.subscriptions.models import (
    Invoice,
    MeteredPrice,
    UsageOverageCharge,
)
from apps.subscriptions.usage.overage import (
    overage_amount_minor,
    usage_overage_push,
    usage_overage_push_due,
)
from apps.subscriptions.usage.record import UsageInput, usage_record_many
from tests.accounts.factories import UserFactory
from tests.subscriptions.conftest import confirm
from tests.subscriptions.factories import PlanFactory

pytestmark = pytest.mark.django_db


def _subscribe(pushed_price, *, limits):
    plan = PlanFactory(limits=limits)
    MeteredPrice.objects.create(
        plan=plan,
        metric="api_calls",
        included=100,
        block_size=10,
        block_amount_minor=50,
    )
    price = pushed_price(amount=1200, plan=plan)
    start = services.subscription_create(user=UserFactory(), price_id=price.pk)
    confirm(start.client_secret)
    return services.subscription_sync(stripe_id=start.subscription.stripe_id)


def _use(sub, quantity):
    usage_record_many(
        events=[UsageInput(sub.user_id, "api_calls", quantity, "bulk")], source="api"
    )


@pytest.mark.localstripe
def test_overage_is_on_the_renewal_invoice_once_with_the_right_amount(
    pushed_price, django_capture_on_commit_callbacks
):
    sub = _subscribe(pushed_price, limits={"api_calls": {"per_month": None}})
    _use(sub, 125)  # 25 beyond 100 included: 3 blocks of 10 started, 0.50 each

    usage_overage_push(subscription=sub)
    usage_overage_push(subscription=sub)  # the beat job running twice
    with django_capture_on_commit_callbacks(execute=True):
        call_command("billing_simulate_renewal", subscription=sub.pk)

    charge = UsageOverageCharge.objects.get()
    assert (charge.used, charge.billed_units, charge.amount_minor) == (125, 30, 150)
    renewal = Invoice.objects.filter(subscription=sub).order_by("pk").last()
    overage = [line for line in renewal.lines.all() if "api_calls" in line.description]
    assert [(line.amount_minor, line.currency) for line in overage] == [(150, "USD")]
    assert renewal.total_minor == 1200 + 150
    assert renewal.amount_paid_minor == 1350


@pytest.mark.localstripe
def test_overage_never_billed_on_a_hard_limited_metric(pushed_price):
    sub = _subscribe(pushed_price, limits={"api_calls": {"per_day": 1000}})
    _use(sub, 500)

    assert usage_overage_push(subscription=sub) == []
    assert usage_overage_push_due() == 0
    assert not UsageOverageCharge.objects.exists()


@pytest.mark.parametrize(
    ("used", "amount"), [(0, 0), (100, 0), (101, 50), (110, 50), (111, 100)]
)
def test_overage_amount_per_block_started(used, amount):
    metered = MeteredPrice(included=100, block_size=10, block_amount_minor=50)

    assert overage_amount_minor(used=used, metered=metered) == amount
