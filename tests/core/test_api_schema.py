"""The OpenAPI schema is valid and tells the truth about errors.

Error responses are generated from the exception classes each view declares,
so an error code the API answers is one its operation lists.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest
from django.conf import settings
from drf_spectacular.generators import SchemaGenerator
from openapi_spec_validator import validate
from rest_framework.test import APIClient

from apps.core.exceptions import ApplicationError
from tests.inventory.factories import VariantFactory

pytestmark = pytest.mark.django_db

ERROR_STATUSES = ("400", "401", "403", "404", "409", "413", "429")
METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def _operations(schema):
    for path, item in schema["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def _codes(operation, status: str) -> list[str]:
    content = operation["responses"][status]["content"]["application/json"]
    envelope, narrowed = content["schema"]["allOf"]
    assert envelope == {"$ref": "#/components/schemas/ErrorEnvelope"}
    return narrowed["properties"]["error"]["properties"]["code"]["enum"]


def test_api_schema_validates_as_openapi_3(schema):
    validate(schema)


def test_api_schema_has_one_money_component_and_every_amount_uses_it(schema):
    components = schema["components"]["schemas"]
    money_shaped = [
        name
        for name, component in components.items()
        if set(component.get("properties", {})) == {"amount", "currency"}
    ]
    assert money_shaped == ["Money"]
    # The catalogue's prices are Money too, not a look-alike of their own.
    variant = components["CatalogueVariant"]["properties"]
    assert variant["price"] == {"$ref": "#/components/schemas/Money"}


def test_api_schema_error_envelope_is_one_component(schema):
    envelope = schema["components"]["schemas"]["ErrorEnvelope"]
    assert envelope["required"] == ["error"]
    assert envelope["properties"]["error"]["required"] == [
        "code",
        "message",
        "details",
    ]


def test_api_schema_every_operation_documents_its_error_responses(schema):
    for path, method, operation in _operations(schema):
        responses = operation["responses"]
        assert {"400", "401", "429"} <= set(responses), (method, path)
        if method != "get":
            assert {"403", "413"} <= set(responses), (method, path)
            assert "request_too_large" in _codes(operation, "413")
        if "{" in path:
            assert "404" in responses, (method, path)
        for status in ERROR_STATUSES:
            if status in responses:
                assert _codes(operation, status), (method, path, status)
        assert "Retry-After" in responses["429"]["headers"]


def test_api_schema_idempotency_key_header_where_honoured(schema):
    documented = {
        (path, method)
        for path, method, operation in _operations(schema)
        if any(p["name"] == "Idempotency-Key" for p in operation.get("parameters", []))
    }
    assert ("/api/v1/checkouts/{checkout_id}/payment/", "post") in documented
    assert ("/api/v1/carts/{cart_id}/lines/", "post") in documented
    assert ("/api/v1/checkouts/{checkout_id}/", "patch") not in documented


def test_api_schema_documents_token_auth_and_links_allauth_spec(schema, client):
    assert schema["components"]["securitySchemes"]["jwtAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    assert schema["externalDocs"]["url"] == "/_allauth/openapi.html"
    assert "/_allauth/openapi.html" in schema["info"]["description"]
    assert client.get("/_allauth/openapi.json").status_code == 200
    assert client.get("/_allauth/openapi.html").status_code == 200


def test_api_payment_before_address_answers_a_code_its_schema_lists(schema):
    client = APIClient()
    variant = VariantFactory(stock=5)
    cart = client.post("/api/v1/carts/", {}, format="json").json()
    added = client.post(
        f"/api/v1/carts/{cart['id']}/lines/",
        {"sku": variant.sku, "quantity": 1},
        format="json",
    )
    assert added.status_code == 200, added.content
    checkout = client.post(
        "/api/v1/checkouts/",
        {"cart": cart["id"], "email": "early@example.com"},
        format="json",
    ).json()

    response = client.post(f"/api/v1/checkouts/{checkout['id']}/payment/")

    assert response.status_code == 409
    code = response.json()["error"]["code"]
    operation = schema["paths"]["/api/v1/checkouts/{checkout_id}/payment/"]["post"]
    assert code in _codes(operation, "409")


def _application_errors() -> dict[str, type[ApplicationError]]:
    found: dict[str, type[ApplicationError]] = {}
    pending = [ApplicationError]
    while pending:
        cls = pending.pop()
        found[cls.__name__] = cls
        pending.extend(cls.__subclasses__())
    return found


def test_every_error_code_raised_in_apps_is_declared_by_its_class():
    """``raise X(..., code="literal")`` must be one of X.api_codes()."""
    import apps.accounts.exceptions
    import apps.billing.exceptions
    import apps.carts.exceptions
    import apps.checkout.exceptions
    import apps.coupons.exceptions
    import apps.inventory.exceptions

    classes = _application_errors()
    undeclared = []
    root = Path(inspect.getfile(apps)).parent
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
                continue
            func = node.exc.func
            name = func.id if isinstance(func, ast.Name) else None
            if name not in classes:
                continue
            literals = [
                k.value.value
                for k in node.exc.keywords
                if k.arg == "code" and isinstance(k.value, ast.Constant)
            ]
            undeclared += [
                f"{path.relative_to(settings.BASE_DIR)}:{node.lineno} {name} {code!r}"
                for code in literals
                if code not in classes[name].api_codes()
            ]
    assert undeclared == []
