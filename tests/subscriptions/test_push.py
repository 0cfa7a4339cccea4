"""The Stripe push, against localstripe (no mocks)."""

import pytest
import stripe
from django.utils import timezone

from apps.billing import gateway
from apps.billing.exceptions import TransientError
from apps.subscriptions import services
from apps.subscriptions.models import PlanPrice, PushStatus
from apps.subscriptions.tasks import push_plan
from tests.subscriptions.factories import PlanFactory, PlanPriceFactory

pytestmark = pytest.mark.django_db


def test_push_creates_product_and_plans_at_localstripe(localstripe):
    plan = PlanFactory(name="Starter")
    monthly = PlanPriceFactory(plan=plan, amount_minor=900)
    yearly = PlanPriceFactory(plan=plan, yearly=True, amount_minor=9000)

    push_plan.delay(plan.pk)

    plan.refresh_from_db()
    assert plan.push_status == PushStatus.SYNCED
    assert plan.pushed_at is not None
    product = stripe.Product.retrieve(
        plan.stripe_product_id, api_key=gateway.secret_key()
    )
    assert product.name == "Starter"
    for price, amount, interval in ((monthly, 900, "month"), (yearly, 9000, "year")):
        price.refresh_from_db()
        assert (price.push_status, price.stripe_object) == (PushStatus.SYNCED, "plan")
        remote = stripe.Plan.retrieve(
            price.stripe_price_id, api_key=gateway.secret_key()
        )
        assert (remote.amount, remote.interval, remote.currency) == (
            amount,
            interval,
            "usd",
        )
        assert remote.product == plan.stripe_product_id


def test_push_twice_creates_nothing_new(localstripe):
    plan = PlanFactory()
    price = PlanPriceFactory(plan=plan)
    services.plan_push(plan_id=plan.pk)
    price.refresh_from_db()
    first_id = price.stripe_price_id
    # A lost write: the row forgot its Stripe id, the retry must find the same plan.
    PlanPrice.objects.filter(pk=price.pk).update(stripe_price_id="")

    services.plan_push(plan_id=plan.pk)

    price.refresh_from_db()
    assert price.stripe_price_id == first_id
    plans = [
        p
        for p in stripe.Plan.list(
            limit=100, api_key=gateway.secret_key()
        ).auto_paging_iter()
        if p.id == first_id
    ]
    assert len(plans) == 1


def test_replaced_price_is_archived_at_stripe_and_new_one_pushed(localstripe):
    plan = PlanFactory()
    price = PlanPriceFactory(plan=plan, amount_minor=1000)
    services.plan_push(plan_id=plan.pk)
    PlanPrice.objects.filter(pk=price.pk).update(used_at=timezone.now())
    price.refresh_from_db()

    result = services.plan_price_change_amount(price=price, amount_minor=1500)
    services.plan_push(plan_id=plan.pk)

    price.refresh_from_db()
    new = PlanPrice.objects.get(pk=result.price.pk)
    old_remote = gateway.recurring_price_retrieve(price_id=price.stripe_price_id)
    assert old_remote.active is False
    remote_new = gateway.recurring_price_retrieve(price_id=new.stripe_price_id)
    assert (remote_new.amount_minor, remote_new.active) == (1500, True)


def test_push_error_is_recorded_with_message(localstripe, settings):
    plan = PlanFactory()
    PlanPriceFactory(plan=plan)
    # An unreachable server is transient: recorded, then retried by the task.
    settings.STRIPE_API_HOST = "http://127.0.0.1:9"

    with pytest.raises(TransientError):
        services.plan_push(plan_id=plan.pk)

    plan.refresh_from_db()
    assert plan.push_status == PushStatus.ERROR
    assert plan.push_error


def test_gateway_picks_plan_on_localstripe_and_price_on_stripe(localstripe, settings):
    assert gateway.recurring_price_object() == "plan"
    settings.STRIPE_API_HOST = "https://api.stripe.com"
    assert gateway.recurring_price_object() == "price"


def test_unused_price_edit_retires_the_stripe_copy_and_pushes_the_new_amount(
    localstripe,
):
    plan = PlanFactory()
    price = PlanPriceFactory(plan=plan, amount_minor=1000)
    services.plan_push(plan_id=plan.pk)
    price.refresh_from_db()
    old_id = price.stripe_price_id

    services.plan_price_change_amount(price=price, amount_minor=1300)
    services.plan_push(plan_id=plan.pk)

    price.refresh_from_db()
    assert price.stripe_price_id != old_id
    assert gateway.recurring_price_retrieve(price_id=old_id).active is False
    remote = gateway.recurring_price_retrieve(price_id=price.stripe_price_id)
    assert (remote.amount_minor, remote.active) == (1300, True)
    assert price.push_status == PushStatus.SYNCED
