import pytest

from apps.billing.gateway import testing as gateway_testing
from apps.subscriptions import services
from tests.subscriptions import usage_helpers
from tests.subscriptions.factories import PlanFactory, PlanPriceFactory

CARD_OK = "4242424242424242"
CARD_DECLINED = "4000000000000002"


@pytest.fixture
def pushed_price(localstripe):
    """Make a plan price and push it to localstripe, as the push task does."""

    def make(*, amount=1000, interval="month", currency="USD", plan=None, **plan_kw):
        plan = plan or PlanFactory(**plan_kw)
        price = PlanPriceFactory(
            plan=plan, amount_minor=amount, interval=interval, currency=currency
        )
        services.plan_push(plan_id=plan.pk)
        price.refresh_from_db()
        assert price.stripe_price_id, price.push_error
        return price

    return make


def intent_id(client_secret: str) -> str:
    return client_secret.split("_secret_")[0]


def confirm(client_secret: str, card: str = CARD_OK):
    """Confirm the first payment server-side, as the mobile Stripe SDK would."""
    return gateway_testing.payment_intent_confirm_with_test_card(
        payment_intent_id=intent_id(client_secret), card_number=card
    )


# --- entitlements and usage ---------------------------------------------------


@pytest.fixture
def basic_plan():
    return usage_helpers.plan_with(
        slug="basic",
        features={"api_access": False, "projects": 3},
        limits={"api_calls": {"per_day": 10, "per_month": 100}},
    )


@pytest.fixture
def pro_plan():
    return usage_helpers.plan_with(
        slug="pro",
        features={"api_access": True, "projects": 50},
        limits={"api_calls": {"per_day": 1000, "per_month": None}},
    )
