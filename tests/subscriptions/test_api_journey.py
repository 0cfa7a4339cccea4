"""Acceptance (issue 13): a mobile client's whole journey, each answer checked
against the OpenAPI schema the API publishes."""

import re
import uuid

import pytest
from openapi_schema_validator import OAS30Validator, validate

from apps.billing.gateway import subscriptions as gw
from apps.subscriptions import services
from apps.subscriptions.models import Subscription
from tests.accounts.factories import PASSWORD, UserFactory
from tests.subscriptions.test_api_subscriptions import sdk_confirm

pytestmark = [pytest.mark.localstripe, pytest.mark.django_db]


def _nullable_refs(node):
    """Let ``{allOf: [...], nullable: true}`` accept null, as OpenAPI 3.0 means.

    drf-spectacular documents a nullable nested object that way, and
    openapi-schema-validator applies ``nullable`` only to a ``type`` beside it.
    """
    if isinstance(node, list):
        return [_nullable_refs(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _nullable_refs(value) for key, value in node.items()}
    if node.get("nullable") and "allOf" in node and "type" not in node:
        rest = {k: v for k, v in node.items() if k not in ("allOf", "nullable")}
        return {
            **rest,
            "anyOf": [{"allOf": node["allOf"]}, {"enum": [None], "nullable": True}],
        }
    return node


class Documented:
    """Call the API and check each answer against its documented response."""

    def __init__(self, client):
        self.client = client
        self.schema = _nullable_refs(client.get("/api/schema/?format=json").json())

    def _check(self, method: str, path: str, response) -> dict:
        for template, operations in self.schema["paths"].items():
            pattern = "^" + re.sub(r"\{[^}]+\}", r"[^/]+", template) + "$"
            if re.match(pattern, path) and method in operations:
                documented = operations[method]["responses"]
                break
        else:  # pragma: no cover - the assertion message is the point
            raise AssertionError(f"{method} {path} is not documented")
        code = str(response.status_code)
        assert code in documented, f"{method} {path} answered undocumented {code}"
        body = response.json()
        content = documented[code].get("content", {}).get("application/json")
        if content:
            validate(
                body,
                {**content["schema"], "components": self.schema["components"]},
                cls=OAS30Validator,
            )
        return body

    def get(self, path: str, **params) -> dict:
        return self._check("get", path, self.client.get(path, params))

    def post(self, path: str, data: dict | None = None) -> dict:
        response = self.client.post(
            path,
            data or {},
            format="json",
            headers={"idempotency-key": str(uuid.uuid4())},
        )
        return self._check("post", path, response)


def test_mobile_client_journey_matches_the_documented_schema(
    client, api_client, pushed_price, localstripe
):
    starter = pushed_price(amount=1000, slug="starter")
    pro = pushed_price(amount=3000, slug="pro")
    mini = pushed_price(amount=500, slug="mini")
    plans = Documented(api_client).get("/api/v1/plans/")
    assert {"starter", "pro", "mini"} <= {p["slug"] for p in plans}
    # As the app signs in: allauth's headless login gives the bearer token.
    user = UserFactory(verified_email=True)
    login = client.post(
        "/_allauth/app/v1/auth/login",
        {"email": user.email, "password": PASSWORD},
        content_type="application/json",
    )
    assert login.status_code == 200, login.content
    token = login.json()["meta"]["access_token"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    api = Documented(api_client)

    started = api.post("/api/v1/subscriptions/", {"price": starter.pk})
    assert sdk_confirm(localstripe, started).json()["status"] == "succeeded"
    sub_id = started["subscription"]["id"]
    base = f"/api/v1/subscriptions/{sub_id}/"
    row = Subscription.objects.get(pk=sub_id)
    services.subscription_sync(stripe_id=row.stripe_id)  # the webhook's work
    assert api.get(base)["status"] == "active"
    mine = api.get("/api/v1/subscriptions/")
    mine = mine["results"] if isinstance(mine, dict) else mine
    assert [(s["id"], s["status"]) for s in mine] == [(sub_id, "active")]

    preview = api.get(base + "change-preview/", price=pro.pk)
    upgraded = api.post(base + "change/", {"price": pro.pk})
    assert preview["kind"] == "upgrade"
    assert upgraded["subscription"]["plan"] == "pro"
    charged = gw.invoice_retrieve(
        invoice_id=gw.subscription_retrieve(
            subscription_id=row.stripe_id
        ).latest_invoice_id
    )
    assert charged.amount_paid_minor == preview["amount_due"]["amount"]

    later = api.post(base + "change/", {"price": mini.pk})
    assert later["scheduled_for"] is not None
    assert api.get(base)["scheduled_change"]["plan"] == "mini"

    assert api.post(base + "cancel/", {"at_period_end": True})["cancel_at_period_end"]
    assert not api.post(base + "resume/")["cancel_at_period_end"]
    card = api.post(base + "payment-method/")
    assert card["client_secret"].startswith("seti_")

    for invoice in gw.invoice_list(subscription_id=row.stripe_id):
        services.invoice_sync(stripe_id=invoice.id)  # the webhook's work
    invoices = api.get("/api/v1/invoices/")
    listed = invoices["results"] if isinstance(invoices, dict) else invoices
    assert len(listed) >= 2
    detail = api.get(f"/api/v1/invoices/{listed[0]['id']}/")
    assert detail["status"] == "paid"
