"""Schemathesis over the OpenAPI schema: no 5xx, no response the schema denies.

Runs in-process against the WSGI application (no server), anonymously and
with a mobile bearer token. Examples per operation are bounded so the module
stays well under a minute on the development machine.
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.accounts.factories import UserFactory, app_access_token

pytestmark = pytest.mark.django_db

CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Derandomized, so every run draws the same examples: more of them buy a
# longer suite (both CI passes run this), not new finds. Schemathesis's
# coverage phase already sends each operation its boundary and malformed
# values (two thirds of this module's requests); six generated examples per
# operation add the random mixes on top (twelve cost each CI pass about a
# minute more of its two CPUs).
FUZZ = settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)


def _api_schema():
    """The schema as built at collection (no database needed to build it)."""
    from config.wsgi import application

    raw = json.loads(
        json.dumps(SchemaGenerator().get_schema(request=None, public=True))
    )
    loaded = schemathesis.openapi.from_dict(raw)
    loaded.app = application
    return loaded


@pytest.fixture
def wsgi_keeps_connection():
    """The WSGI handler closes the connection after each request (Django's
    test client detaches this too); the test's transaction must survive."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def bearer_token(db) -> str:
    return app_access_token(UserFactory(verified_email=True))


schema = _api_schema()


@schema.parametrize()
@FUZZ
def test_api_fuzz_anonymous_no_5xx_and_conforms(case, wsgi_keeps_connection):
    response = case.call()
    case.validate_response(response, checks=CHECKS)


@schema.parametrize()
@FUZZ
def test_api_fuzz_signed_in_no_5xx_and_conforms(
    case, bearer_token, wsgi_keeps_connection
):
    # bearer_token comes first: Django's test client, which it uses,
    # reattaches the connection-closing receivers when done.
    response = case.call(headers={"Authorization": f"Bearer {bearer_token}"})
    case.validate_response(response, checks=CHECKS)
