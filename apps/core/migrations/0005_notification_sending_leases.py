"""Give notifications caught mid-send by the deploy the lease they had.

Before 0004 a ``sending`` row's lease was its ``updated_at`` plus 15 minutes;
without this, such a row would look unheld and could be sent a second time.
"""

from datetime import timedelta

from django.db import migrations
from django.db.models import F

SENDING_LEASE = timedelta(minutes=15)


def add_leases(apps, schema_editor):
    Notification = apps.get_model("core", "Notification")
    Notification.objects.filter(status="sending", lease_expires_at__isnull=True).update(
        claimed_by="before-0004", lease_expires_at=F("updated_at") + SENDING_LEASE
    )


def remove_leases(apps, schema_editor):
    Notification = apps.get_model("core", "Notification")
    Notification.objects.filter(claimed_by="before-0004").update(
        claimed_by="", lease_expires_at=None
    )


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0004_workflow_and_notification_lease"),
    ]

    operations = [
        migrations.RunPython(add_leases, remove_leases),
    ]
