"""finalize_payment exhausting its retries leaves a core workflow that beat
and the admin's retry action really run again (created through the real
failure path: Celery's autoretry, not a hand-made row)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.checkout import tasks
from apps.checkout.models import Order
from apps.core.exceptions import TransientError
from apps.core.models import Workflow
from apps.core.workflows import workflows_retry_due
from apps.inventory import services as inventory_services
from apps.inventory.models import StockItem
from tests.checkout.conftest import api_checkout_to_payment, confirm_card

# Eager tasks raise in tests; these look at the failed result instead.
pytestmark = [
    pytest.mark.django_db,
    pytest.mark.localstripe,
    pytest.mark.usefixtures("eager_retries"),
]


@pytest.fixture
def inventory_down(monkeypatch):
    """Stock commits fail as with a database that keeps timing out."""
    calls: list[str] = []
    real = inventory_services.stock_commit

    def down(*, ref):
        calls.append(ref)
        raise TransientError("inventory database unavailable")

    monkeypatch.setattr(inventory_services, "stock_commit", down)

    def recover():
        monkeypatch.setattr(inventory_services, "stock_commit", real)

    return calls, recover


@pytest.fixture
def paid_intent(api_client, make_cart, shipping_method, localstripe):
    cart = make_cart(lines=((None, 2),))
    variant_id = cart.lines.get().variant_id
    session = api_checkout_to_payment(api_client, cart, method=shipping_method)
    confirm_card(session["payment_intent_id"])
    return {**session, "variant_id": variant_id}


def _finalize(session):
    """Run the task eagerly through Celery's whole autoretry chain.

    Tests propagate eager exceptions (CELERY_TASK_EAGER_PROPAGATES), which
    stops eager apply() at the first Retry; these tests turn it off (see
    eager_retries) so every retry runs, and read the outcome from the result.
    """
    amount = session["amount"]
    return tasks.finalize_payment.apply(
        args=[
            session["payment_intent_id"],
            "webhook",
            amount["amount"],
            amount["currency"],
        ]
    )


def test_finalize_payment_retries_exhausted_writes_failed_workflow(
    paid_intent, inventory_down, eager_retries
):
    calls, _recover = inventory_down

    result = _finalize(paid_intent)

    assert result.failed()
    assert isinstance(result.result, TransientError)
    assert len(calls) == tasks.finalize_payment.max_retries + 1 == 6
    workflow = Workflow.objects.get()
    assert workflow.name == "order.finalize_payment"
    assert workflow.reference == paid_intent["payment_intent_id"]
    assert workflow.status == Workflow.Status.OPEN
    assert workflow.attempts == 6
    assert workflow.next_attempt_at > timezone.now()
    assert "inventory database unavailable" in workflow.last_error
    assert workflow.payload["order_number"] == paid_intent["order_number"]
    assert Order.objects.get().status == Order.Status.PENDING_PAYMENT


def test_finalize_payment_success_writes_no_failed_workflow(paid_intent):
    assert _finalize(paid_intent).successful()
    assert not Workflow.objects.exists()
    assert Order.objects.get().status == Order.Status.PAID


def test_admin_retry_of_exhausted_finalisation_pays_the_order(
    paid_intent,
    inventory_down,
    admin_client,
    django_capture_on_commit_callbacks,
    eager_retries,
):
    _calls, recover = inventory_down
    assert _finalize(paid_intent).failed()
    workflow = Workflow.objects.get()
    url = reverse("admin:core_workflow_changelist")
    retry = {"action": "retry", "_selected_action": [workflow.pk]}

    # Still down: the retry fails again and says so; the workflow stays open.
    r = admin_client.post(url, retry)
    assert r.status_code == 302
    workflow.refresh_from_db()
    assert (workflow.status, workflow.attempts) == ("open", 7)
    assert Order.objects.get().status == Order.Status.PENDING_PAYMENT

    recover()
    with django_capture_on_commit_callbacks(execute=True):
        r = admin_client.post(url, retry)

    assert r.status_code == 302
    workflow.refresh_from_db()
    assert (workflow.status, workflow.attempts) == ("resolved", 8)
    assert workflow.resolved_at is not None
    order = Order.objects.get()
    assert order.status == Order.Status.PAID
    assert order.events.get(to_status="paid").source == "retry"
    assert StockItem.objects.get(variant_id=paid_intent["variant_id"]).on_hand == 48
    # Resolved: retrying again changes nothing.
    admin_client.post(url, retry)
    workflow.refresh_from_db()
    assert workflow.attempts == 8


def test_beat_retry_of_exhausted_finalisation_waits_for_backoff_then_pays(
    paid_intent,
    inventory_down,
    django_capture_on_commit_callbacks,
    eager_retries,
    settings,
):
    _calls, recover = inventory_down
    assert _finalize(paid_intent).failed()
    workflow = Workflow.objects.get()
    recover()

    # Not due yet: beat leaves it alone.
    assert workflows_retry_due() == 0
    assert Order.objects.get().status == Order.Status.PENDING_PAYMENT

    with django_capture_on_commit_callbacks(execute=True):
        ran = workflows_retry_due(now=workflow.next_attempt_at + timedelta(seconds=1))

    assert ran == 1
    workflow.refresh_from_db()
    assert (workflow.status, workflow.attempts) == ("resolved", 7)
    assert (workflow.claimed_by, workflow.lease_expires_at) == ("", None)
    order = Order.objects.get()
    assert order.status == Order.Status.PAID
    assert order.events.get(to_status="paid").source == "retry"
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "core.retry_workflows" in scheduled
