"""Copy checkout's failed workflows into core.Workflow (the next migration drops them).

Steps are renamed to their handler names; the reference is what identifies
the step: the order number for a refund, the intent id for a finalisation.
Unresolved rows become due now (beat retries them) unless they have already
used the attempts a handler gets, in which case they wait for staff.
"""

from django.db import migrations
from django.utils import timezone

NAMES = {"auto_refund": "order.compensate", "finalize_payment": "order.finalize_payment"}
STEPS = {name: step for step, name in NAMES.items()}
# apps.core.workflows.DEFAULT_MAX_ATTEMPTS when this migration was written.
MAX_ATTEMPTS = 10


def _reference(old) -> str:
    if old.step == "finalize_payment":
        return str(old.payload.get("intent_id", ""))
    return old.order.number if old.order_id else ""


def copy_to_core(apps, schema_editor):
    FailedWorkflow = apps.get_model("checkout", "FailedWorkflow")
    Workflow = apps.get_model("core", "Workflow")
    now = timezone.now()
    for old in FailedWorkflow.objects.select_related("order").order_by("pk"):
        payload = dict(old.payload or {})
        if old.order_id:
            payload.setdefault("order_number", old.order.number)
        if old.status == "resolved":
            status = "resolved"
        elif old.attempts >= MAX_ATTEMPTS:
            status = "needs_attention"
        else:
            status = "open"
        new = Workflow.objects.create(
            name=NAMES.get(old.step, old.step),
            reference=_reference(old),
            payload=payload,
            status=status,
            attempts=old.attempts,
            last_error=old.error,
            next_attempt_at=now if status == "open" else None,
            resolved_at=old.resolved_at,
        )
        # auto_now_add/auto_now would stamp the migration's time.
        Workflow.objects.filter(pk=new.pk).update(
            created_at=old.created_at, updated_at=old.updated_at
        )


def copy_back(apps, schema_editor):
    FailedWorkflow = apps.get_model("checkout", "FailedWorkflow")
    Order = apps.get_model("checkout", "Order")
    Workflow = apps.get_model("core", "Workflow")
    for new in Workflow.objects.filter(name__in=STEPS).order_by("pk"):
        number = new.payload.get("order_number") or (
            new.reference if new.name == "order.compensate" else ""
        )
        old = FailedWorkflow.objects.create(
            order=Order.objects.filter(number=number).first() if number else None,
            step=STEPS[new.name],
            error=new.last_error,
            attempts=new.attempts,
            status="resolved" if new.status == "resolved" else "open",
            payload={k: v for k, v in new.payload.items() if k != "order_number"},
            resolved_at=new.resolved_at,
        )
        FailedWorkflow.objects.filter(pk=old.pk).update(
            created_at=new.created_at, updated_at=new.updated_at
        )
        new.delete()


class Migration(migrations.Migration):
    dependencies = [
        ("checkout", "0002_order_notes_and_fulfilments"),
        ("core", "0004_workflow_and_notification_lease"),
    ]

    operations = [
        migrations.RunPython(copy_to_core, copy_back),
    ]
