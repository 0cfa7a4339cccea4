import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.subscriptions import selectors, services
from apps.subscriptions.models import Feature, PlanPrice
from tests.subscriptions.factories import FeatureFactory, PlanPriceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def features():
    FeatureFactory(key="seats", kind=Feature.Kind.NUMBER)
    FeatureFactory(key="api_access", kind=Feature.Kind.BOOLEAN)
    FeatureFactory(key="support", kind=Feature.Kind.TEXT)


def test_valid_features_pass(features):
    value = {"seats": 3, "api_access": True, "support": "Email"}
    assert services.plan_features_validate(features=value) == value


@pytest.mark.parametrize(
    ("features_value", "message"),
    [
        ({"colour": "red"}, "Unknown feature 'colour'"),
        ({"seats": "three"}, "'seats' is a number"),
        ({"seats": True}, "'seats' is a number"),
        ({"api_access": 1}, "'api_access' is yes/no"),
        ({"support": 5}, "'support' is text"),
        (["seats"], "Enter an object"),
    ],
)
def test_unknown_or_mistyped_feature_is_a_validation_error(
    features, features_value, message
):
    with pytest.raises(ValidationError) as exc:
        services.plan_features_validate(features=features_value)
    assert message in str(exc.value.message_dict["features"])


@pytest.mark.parametrize(
    "limits",
    [
        {"api_calls": {"per_week": 3}},
        {"api_calls": {"per_day": -1}},
        {"api_calls": {"per_day": "10"}},
        {"api_calls": {}},
    ],
)
def test_bad_limits_are_a_validation_error(limits):
    with pytest.raises(ValidationError):
        services.plan_limits_validate(limits=limits)


def test_limits_accept_null_as_unlimited():
    limits = {"api_calls": {"per_day": None, "per_month": 1000}}
    assert services.plan_limits_validate(limits=limits) == limits


def test_unused_price_amount_changes_in_place():
    price = PlanPriceFactory(amount_minor=1000)

    result = services.plan_price_change_amount(price=price, amount_minor=1200)

    assert result.replaced is None
    assert result.price.pk == price.pk
    assert PlanPrice.objects.get().amount_minor == 1200


def test_used_price_amount_change_creates_new_price_and_archives_old():
    price = PlanPriceFactory(amount_minor=1000, used_at=timezone.now())
    assert selectors.price_is_used(price=price)

    result = services.plan_price_change_amount(price=price, amount_minor=1200)

    old = PlanPrice.objects.get(pk=price.pk)
    assert (old.amount_minor, old.active) == (1000, False)
    assert result.replaced.pk == price.pk
    new = result.price
    assert (new.amount_minor, new.active, new.replaces_id) == (1200, True, price.pk)
    assert (new.interval, new.currency, new.plan_id) == (
        price.interval,
        price.currency,
        price.plan_id,
    )


def test_yearly_saving_percent_floors():
    assert selectors.yearly_saving_percent(monthly_minor=900, yearly_minor=9000) == 16
    assert selectors.yearly_saving_percent(monthly_minor=1000, yearly_minor=12000) == 0
