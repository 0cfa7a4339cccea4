"""Admin for licence keys (read-only) and guest flows (retry from a step)."""

from typing import Any

from django.contrib import admin, messages

from apps.core.admin_display import RecordAdminMixin
from apps.core.models import Workflow
from apps.core.workflows import workflow_fail, workflow_retry_now
from apps.subscriptions.licence_models import LicenceDevice, LicenceKey, SubscribeFlow
from apps.subscriptions.services.guest_flow import WORKFLOW_NAME


class _ViewOnly(RecordAdminMixin):
    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False


class LicenceDeviceInline(_ViewOnly, admin.TabularInline):
    model = LicenceDevice
    extra = 0
    fields = ("device_id", "first_seen_at", "last_seen_at", "released_at")
    readonly_fields = fields


@admin.register(LicenceKey)
class LicenceKeyAdmin(_ViewOnly, admin.ModelAdmin):
    list_display = ("__str__", "user", "subscription", "status", "seats", "created_at")
    list_filter = ("status",)
    list_select_related = ("user", "subscription")
    search_fields = ("user__email", "display_prefix")
    exclude = ("key_hash",)
    inlines = [LicenceDeviceInline]


@admin.register(SubscribeFlow)
class SubscribeFlowAdmin(_ViewOnly, admin.ModelAdmin):
    list_display = (
        "email",
        "price",
        "status",
        "current_step",
        "retry_count",
        "created_at",
    )
    list_filter = ("status", "current_step")
    list_select_related = ("price__plan",)
    search_fields = ("email", "token", "stripe_subscription_id")
    actions = ["retry_from_failed_step"]

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        # The action needs change permission; the form itself stays read-only.
        return request.user.has_perm("subscriptions.change_subscribeflow")

    def get_readonly_fields(self, request: Any, obj: Any = None) -> Any:
        return [f.name for f in self.model._meta.fields]

    @admin.action(description="Retry from the failed step", permissions=["change"])
    def retry_from_failed_step(self, request: Any, queryset: Any) -> None:
        done = 0
        for flow in queryset.filter(status=SubscribeFlow.Status.PROCESSING):
            row = (
                Workflow.objects.filter(
                    name=WORKFLOW_NAME,
                    reference=str(flow.token),
                    status__in=[Workflow.Status.OPEN, Workflow.Status.NEEDS_ATTENTION],
                ).first()
                # A flow stuck without a row (its task lost) gets one to run.
                or workflow_fail(
                    name=WORKFLOW_NAME,
                    reference=str(flow.token),
                    error="retried by staff",
                    payload={"flow": flow.pk, "step": flow.current_step},
                    attempts=0,
                )
            )
            row = workflow_retry_now(workflow_id=row.pk)
            done += row.status == Workflow.Status.RESOLVED
        messages.info(request, f"{done} flow(s) completed or compensated.")
