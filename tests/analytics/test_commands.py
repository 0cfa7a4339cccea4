import pytest
from django.core.management import call_command

from apps.analytics.models import DailyMetrics, MrrMovement
from apps.checkout.models import Order
from apps.subscriptions.models import Subscription
from tests.subscriptions.factories import PlanPriceFactory

pytestmark = pytest.mark.django_db


def test_seed_analytics_history_writes_history_and_computes_it_once(capsys):
    PlanPriceFactory(amount_minor=1000)
    PlanPriceFactory(amount_minor=3000)
    PlanPriceFactory(amount_minor=900, currency="EUR")

    call_command("seed_analytics_history", "--days", "20")
    subscriptions = Subscription.objects.count()
    orders = Order.objects.count()
    metrics = DailyMetrics.objects.count()
    call_command("seed_analytics_history", "--days", "20")

    assert subscriptions >= 120
    assert orders > 0
    assert metrics >= 20
    assert MrrMovement.objects.filter(kind="new").exists()
    assert (Subscription.objects.count(), Order.objects.count()) == (
        subscriptions,
        orders,
    )
    assert "already present" in capsys.readouterr().out
