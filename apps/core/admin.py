from django.contrib import admin

from apps.core import workflows
from apps.core.models import AuditLog, Notification, OutboxEvent, Workflow


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("kind", "recipient", "status", "attempts", "created_at", "sent_at")
    list_filter = ("status", "kind")
    search_fields = ("recipient", "idempotency_key")
    readonly_fields = [f.name for f in Notification._meta.fields]


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "action",
        "actor",
        "object_type",
        "object_id",
        "ip_address",
    )
    list_filter = ("action",)
    search_fields = ("object_id", "actor__email", "ip_address")
    list_select_related = ("actor",)
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(OutboxEvent)
class OutboxEventAdmin(admin.ModelAdmin):
    """Events are records of what happened: read-only, never deleted."""

    list_display = (
        "id",
        "topic",
        "aggregate_type",
        "aggregate_id",
        "created_at",
        "published_at",
        "attempts",
    )
    list_filter = ("topic", ("published_at", admin.EmptyFieldListFilter))
    search_fields = ("aggregate_id", "topic")
    readonly_fields = [f.name for f in OutboxEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    """Failed steps: beat retries open ones; needs_attention ones wait for staff."""

    list_display = (
        "name",
        "reference",
        "status",
        "attempts",
        "next_attempt_at",
        "updated_at",
    )
    list_filter = ("status", "name")
    search_fields = ("reference",)
    readonly_fields = [f.name for f in Workflow._meta.fields]
    actions = ["retry"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Retry now", permissions=["change"])
    def retry(self, request, queryset):
        for workflow in queryset.order_by("pk"):
            workflow = workflows.workflow_retry_now(workflow_id=workflow.pk)
            self.message_user(request, f"{workflow}: {workflow.status}")
