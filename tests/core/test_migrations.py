"""checkout's failed workflows move into core.Workflow and back, rows intact."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [
    ("checkout", "0002_order_notes_and_fulfilments"),
    ("core", "0003_outbox_event"),
]
AFTER = [
    ("checkout", "0004_delete_failedworkflow"),
    ("core", "0005_notification_sending_leases"),
]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _migrate_to_latest():
    """Every app to its newest migration, as the test database began.

    Not back to AFTER: going back to BEFORE also unapplied the migrations
    that came after AFTER (checkout's store credit), and later tests on
    this database would find their columns missing.
    """
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_failed_workflows_copied_to_core_workflows_and_back():
    old_apps = _migrate(BEFORE)
    try:
        Order = old_apps.get_model("checkout", "Order")
        FailedWorkflow = old_apps.get_model("checkout", "FailedWorkflow")
        Notification = old_apps.get_model("core", "Notification")
        order = Order.objects.create(
            number="A-1", email="a@example.com", currency="USD", status="cancelled"
        )
        refund = FailedWorkflow.objects.create(
            order=order,
            step="auto_refund",
            error="Stripe down",
            attempts=2,
            payload={"reason": "sold out"},
        )
        created = timezone.now() - timedelta(days=3)
        FailedWorkflow.objects.filter(pk=refund.pk).update(created_at=created)
        FailedWorkflow.objects.create(
            order=order,
            step="finalize_payment",
            error="db down",
            attempts=12,
            payload={"intent_id": "pi_1", "source": "webhook"},
        )
        FailedWorkflow.objects.create(
            order=None,
            step="finalize_payment",
            status="resolved",
            attempts=6,
            payload={"intent_id": "pi_2"},
            resolved_at=timezone.now(),
        )
        sending = Notification.objects.create(
            kind="k",
            recipient="a@example.com",
            idempotency_key="mid-send",
            subject="s",
            body_text="b",
            status="sending",
        )

        new_apps = _migrate(AFTER)
        Workflow = new_apps.get_model("core", "Workflow")
        rows = {(w.name, w.reference): w for w in Workflow.objects.order_by("pk")}
        assert set(rows) == {
            ("order.compensate", "A-1"),
            ("order.finalize_payment", "pi_1"),
            ("order.finalize_payment", "pi_2"),
        }
        compensate = rows["order.compensate", "A-1"]
        assert (compensate.status, compensate.attempts, compensate.last_error) == (
            "open",
            2,
            "Stripe down",
        )
        assert compensate.payload == {"reason": "sold out", "order_number": "A-1"}
        assert compensate.next_attempt_at <= timezone.now()
        assert compensate.created_at == created
        # Out of attempts already: staff decide, beat does not.
        assert rows["order.finalize_payment", "pi_1"].status == "needs_attention"
        assert rows["order.finalize_payment", "pi_2"].status == "resolved"
        lease = new_apps.get_model("core", "Notification").objects.get(pk=sending.pk)
        assert lease.lease_expires_at > timezone.now()

        back_apps = _migrate(BEFORE)
        Old = back_apps.get_model("checkout", "FailedWorkflow")
        assert sorted(
            (w.step, w.order_id or 0, w.status, w.attempts) for w in Old.objects.all()
        ) == [
            ("auto_refund", order.pk, "open", 2),
            ("finalize_payment", 0, "resolved", 6),
            ("finalize_payment", order.pk, "open", 12),
        ]
    finally:
        _migrate_to_latest()
