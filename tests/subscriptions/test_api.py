import pytest

from tests.subscriptions.factories import FeatureFactory, PlanFactory, PlanPriceFactory

pytestmark = pytest.mark.django_db


def _plans(n):
    FeatureFactory(key="seats")
    for i in range(n):
        plan = PlanFactory(slug=f"p{i}", features={"seats": i})
        PlanPriceFactory(plan=plan, amount_minor=1000 + i)
        PlanPriceFactory(plan=plan, yearly=True)


def test_list_returns_public_plans_with_prices_and_features(api_client):
    _plans(2)
    PlanFactory(slug="secret", private=True)

    response = api_client.get("/api/v1/plans/")

    assert response.status_code == 200
    body = response.json()
    assert [p["slug"] for p in body] == ["p0", "p1"]
    assert body[1]["features"] == {"seats": 1}
    assert body[1]["prices"][0]["amount"] == {"amount": 1001, "currency": "USD"}
    assert body[1]["prices"][0]["interval"] == "month"


def test_private_plan_reachable_by_slug(api_client):
    PlanFactory(slug="enterprise", private=True)

    response = api_client.get("/api/v1/plans/enterprise/")

    assert response.status_code == 200
    assert response.json()["public"] is False


def test_unknown_or_archived_slug_is_404(api_client):
    PlanFactory(slug="old", archived=True)

    response = api_client.get("/api/v1/plans/old/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "plan_not_found"


def test_compare_gives_a_feature_matrix_in_the_order_asked(api_client):
    _plans(2)

    response = api_client.get("/api/v1/plans/compare/?plans=p1,p0")

    assert response.status_code == 200
    body = response.json()
    assert [p["slug"] for p in body["plans"]] == ["p1", "p0"]
    assert body["rows"] == [
        {
            "feature": {
                "key": "seats",
                "label": "Seats",
                "kind": "number",
                "unit": "",
                "description": "",
            },
            "values": [1, 0],
        }
    ]


def test_compare_with_unknown_slug_is_400_with_code(api_client):
    _plans(1)

    response = api_client.get("/api/v1/plans/compare/?plans=p0,nope")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "unknown_plan"
    assert error["details"]["plans"] == ["nope"]


def test_compare_without_plans_is_400(api_client):
    response = api_client.get("/api/v1/plans/compare/")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize("count", [1, 5])
def test_plans_api_cold_costs_at_most_three_queries_whatever_the_plan_count(
    api_client, count, django_assert_max_num_queries, django_assert_num_queries
):
    _plans(count)

    with django_assert_num_queries(3):
        assert api_client.get("/api/v1/plans/").status_code == 200
    with django_assert_max_num_queries(0):
        assert api_client.get("/api/v1/plans/compare/?plans=p0").status_code == 200


def test_plans_api_sees_a_new_plan_at_once(api_client):
    _plans(1)
    api_client.get("/api/v1/plans/")
    PlanFactory(slug="fresh")

    slugs = [p["slug"] for p in api_client.get("/api/v1/plans/").json()]
    assert "fresh" in slugs


def test_schema_documents_the_plans_operations(api_client):
    schema = api_client.get("/api/schema/?format=json").json()

    assert {"/api/v1/plans/", "/api/v1/plans/{slug}/", "/api/v1/plans/compare/"} <= set(
        schema["paths"]
    )
