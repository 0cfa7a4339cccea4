"""No stripe.StripeObject leaves the gateway: every public call returns a snapshot."""

import dataclasses
import inspect
import sys
import typing
import uuid

import pytest
import stripe

from apps.billing import gateway
from apps.billing.gateway import (
    CustomerSnapshot,
    IntentStatus,
    PaymentIntentSnapshot,
    RefundSnapshot,
    testing,
)

PUBLIC_FUNCTIONS = [
    (name, obj)
    for name, obj in vars(gateway).items()
    if inspect.isfunction(obj) and not name.startswith("_")
]
# Plain values, not Stripe objects: configuration and the localstripe config call.
PLAIN = {bool, str, None, type(None)}


def _leaves(annotation):
    args = typing.get_args(annotation)
    return [leaf for arg in args for leaf in _leaves(arg)] if args else [annotation]


@pytest.mark.parametrize(("name", "function"), PUBLIC_FUNCTIONS)
def test_gateway_public_function_annotation_returns_snapshot_or_plain(name, function):
    # Only the return annotation: parameters name stripe's TYPE_CHECKING types.
    module = sys.modules[function.__module__]
    returned = eval(function.__annotations__["return"], vars(module))  # noqa: S307

    for leaf in _leaves(returned):
        assert leaf in PLAIN or (
            dataclasses.is_dataclass(leaf) and leaf.__dataclass_params__.frozen
        ), f"{name} returns {leaf!r}"
        assert not (isinstance(leaf, type) and issubclass(leaf, stripe.StripeObject))


def test_gateway_public_functions_cover_every_module():
    modules = {function.__module__ for _name, function in PUBLIC_FUNCTIONS}

    assert {
        "apps.billing.gateway.catalogue",
        "apps.billing.gateway.client",
        "apps.billing.gateway.customers",
        "apps.billing.gateway.hosted",
        "apps.billing.gateway.intents",
        "apps.billing.gateway.refunds",
        "apps.billing.gateway.webhooks",
    } <= modules


@pytest.mark.localstripe
@pytest.mark.django_db
def test_gateway_calls_against_localstripe_return_frozen_snapshots(localstripe):
    customer = gateway.customer_create(
        email="s@example.com", idempotency_key=str(uuid.uuid4())
    )
    intent = gateway.payment_intent_create(
        amount_minor=1200, currency="EUR", idempotency_key=str(uuid.uuid4())
    )
    paid = testing.payment_intent_confirm_with_test_card(
        payment_intent_id=intent.id, card_number=testing.CARD_OK
    )
    refund = gateway.refund_create(
        payment_intent_id=intent.id, idempotency_key=str(uuid.uuid4())
    )

    for value, kind in [
        (customer, CustomerSnapshot),
        (intent, PaymentIntentSnapshot),
        (paid, PaymentIntentSnapshot),
        (refund, RefundSnapshot),
        (gateway.refund_retrieve(refund_id=refund.id), RefundSnapshot),
    ]:
        assert type(value) is kind
        with pytest.raises(dataclasses.FrozenInstanceError):
            value.id = "changed"
    assert paid.status is IntentStatus.SUCCEEDED
    assert paid.latest_charge.startswith("ch_")
    assert isinstance(paid.metadata, dict)
