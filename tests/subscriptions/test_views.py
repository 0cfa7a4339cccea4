import pytest

from apps.subscriptions.models import Feature
from tests.subscriptions.factories import FeatureFactory, PlanFactory, PlanPriceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue():
    FeatureFactory(key="seats", label="Devices", unit="devices", sort_order=1)
    FeatureFactory(
        key="api_access", label="API access", kind=Feature.Kind.BOOLEAN, sort_order=2
    )
    pro = PlanFactory(
        slug="pro",
        name="Pro",
        sort_order=20,
        trial_days=14,
        features={"seats": 5, "api_access": True},
    )
    starter = PlanFactory(
        slug="starter",
        name="Starter",
        sort_order=10,
        features={"seats": 1, "api_access": False},
    )
    PlanFactory(slug="enterprise", name="Enterprise", private=True)
    PlanFactory(slug="old", name="Old plan", archived=True)
    prices = {
        "starter_month": PlanPriceFactory(plan=starter, amount_minor=900),
        "starter_year": PlanPriceFactory(plan=starter, yearly=True, amount_minor=9000),
        "pro_month": PlanPriceFactory(plan=pro, amount_minor=2900),
        "pro_year": PlanPriceFactory(plan=pro, yearly=True, amount_minor=29000),
    }
    return prices


def test_pricing_page_lists_public_active_plans_in_sort_order(client, catalogue):
    html = client.get("/pricing/").content.decode()

    assert html.index('data-testid="plan-starter"') < html.index(
        'data-testid="plan-pro"'
    )
    assert "Enterprise" not in html
    assert "Old plan" not in html
    assert "$9.00 / month" in html
    assert "14-day free trial" in html
    assert f"/subscribe/{catalogue['starter_month'].pk}/" in html


def test_yearly_toggle_without_javascript_shows_yearly_prices_and_saving(
    client, catalogue
):
    html = client.get("/pricing/?interval=year").content.decode()

    assert "$90.00 / year" in html
    assert "Save 16% with yearly billing" in html
    assert f"/subscribe/{catalogue['pro_year'].pk}/" in html
    assert 'href="?interval=month"' in html


def test_feature_table_built_from_feature_definitions(client, catalogue):
    html = client.get("/pricing/").content.decode()

    assert "Devices" in html
    assert "5 devices" in html
    assert "1 devices" in html
    assert "API access" in html
    assert "✓" in html


def test_pricing_changes_when_a_price_changes(client, catalogue):
    client.get("/pricing/")
    price = catalogue["starter_month"]
    price.amount_minor = 1100
    price.save()

    assert "$11.00 / month" in client.get("/pricing/").content.decode()


def test_pricing_changes_when_a_feature_label_changes(client, catalogue):
    client.get("/pricing/")
    feature = Feature.objects.get(key="seats")
    feature.label = "Machines"
    feature.save()

    assert "Machines" in client.get("/pricing/").content.decode()


def test_warm_pricing_page_costs_at_most_one_query(
    client, catalogue, django_assert_max_num_queries
):
    client.get("/pricing/")

    with django_assert_max_num_queries(1):
        response = client.get("/pricing/?interval=month")
    assert response.status_code == 200
    assert "Starter" in response.content.decode()


def test_warm_pricing_page_signed_in_adds_only_the_user_and_cart_badge(
    client, django_user_model, catalogue, django_assert_max_num_queries
):
    user = django_user_model.objects.create_user(email="a@example.com", password="pw")
    client.force_login(user)
    client.get("/pricing/")

    # The user lookup, and the nav's cart badge (carts' context processor,
    # on every page): the pricing data itself costs none.
    with django_assert_max_num_queries(2):
        response = client.get("/pricing/?interval=month")
    assert response.status_code == 200


def test_subscribe_page_anonymous_goes_to_login(client, catalogue):
    response = client.get(f"/subscribe/{catalogue['pro_month'].pk}/")

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_subscribe_page_get_shows_price_and_writes_nothing(client, catalogue):
    from apps.subscriptions.models import Subscription
    from tests.accounts.factories import UserFactory

    client.force_login(UserFactory())

    response = client.get(f"/subscribe/{catalogue['pro_month'].pk}/")

    assert response.status_code == 200
    assert "Continue to payment" in response.content.decode()
    assert not Subscription.objects.exists()


def test_nav_links_to_pricing(client):
    assert 'href="/pricing/"' in client.get("/pricing/").content.decode()
