"""Dunning in admin: the policy, cases with their timeline, and staff actions.

Actions go through services and a confirmation page (a retry charges a
card; writing off stops chasing money). Statuses are read-only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from apps.core.exceptions import ApplicationError
from apps.dunning import selectors, services
from apps.dunning.models import DunningAction, DunningCase, DunningPolicy


@admin.register(DunningPolicy)
class DunningPolicyAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "is_default",
        "retry_offsets_days",
        "grace_days",
        "final_action",
        "final_action_day",
    )


class DueTodayFilter(admin.SimpleListFilter):
    title = "due"
    parameter_name = "due"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("today", "Due today (or overdue)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "today":
            return queryset.filter(pk__in=selectors.cases_due_today().values("pk"))
        return queryset


class ActionInline(admin.TabularInline):
    """The case's timeline: retries (payment attempts), emails, grace, final."""

    model = DunningAction
    extra = 0
    can_delete = False
    ordering = ("due_at", "pk")
    fields = (
        "due_at",
        "kind",
        "detail",
        "attempt",
        "status",
        "runs",
        "decline_code",
        "result",
        "finished_at",
        "idempotency_key",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(DunningCase)
class DunningCaseAdmin(admin.ModelAdmin):
    list_display = (
        "pk",
        "subscription",
        "invoice",
        "status",
        "failed_at",
        "grace_until",
        "paused_at",
        "awaiting_customer",
        "last_decline_code",
    )
    list_filter = (DueTodayFilter, "status", "awaiting_customer")
    list_select_related = ("subscription", "invoice")
    search_fields = (
        "invoice__stripe_id",
        "subscription__stripe_id",
        "subscription__user__email",
    )
    readonly_fields = (
        "subscription",
        "invoice",
        "policy",
        "status",
        "failed_at",
        "grace_until",
        "paused_at",
        "awaiting_customer",
        "last_decline_code",
        "do_not_honor_count",
        "closed_at",
        "close_reason",
        "emails",
    )
    fields = readonly_fields
    inlines = [ActionInline]
    actions = ["retry_now", "pause", "resume", "write_off"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Emails sent")
    def emails(self, case: DunningCase) -> str:
        rows = selectors.case_emails(case=case)
        return (
            "; ".join(
                f"{n.created_at:%Y-%m-%d %H:%M} {n.kind} ({n.status})" for n in rows
            )
            or "-"
        )

    def _confirm(
        self,
        request: HttpRequest,
        queryset: QuerySet[DunningCase],
        *,
        action: str,
        verb: str,
        run: Callable[[DunningCase], object],
    ) -> TemplateResponse | None:
        if request.POST.get("confirmed") == "yes":
            done = 0
            for case in queryset:
                try:
                    run(case)
                except ApplicationError as exc:
                    self.message_user(
                        request, f"{case}: {exc.message}", messages.WARNING
                    )
                else:
                    done += 1
            self.message_user(request, f"{verb}: {done} case(s).")
            return None
        return TemplateResponse(
            request,
            "admin/dunning/case_confirm.html",
            {
                **self.admin_site.each_context(request),
                "title": f"{verb}?",
                "cases": queryset,
                "action": action,
                "verb": verb,
                "opts": self.model._meta,
            },
        )

    @admin.action(description="Retry the payment now…")
    def retry_now(self, request: HttpRequest, queryset: QuerySet[DunningCase]) -> Any:
        return self._confirm(
            request,
            queryset,
            action="retry_now",
            verb="Retry the payment now",
            run=lambda case: services.case_retry_now(case_id=case.pk, reason="staff"),
        )

    @admin.action(description="Pause dunning…")
    def pause(self, request: HttpRequest, queryset: QuerySet[DunningCase]) -> Any:
        return self._confirm(
            request,
            queryset,
            action="pause",
            verb="Pause dunning",
            run=lambda case: services.case_pause(case_id=case.pk),
        )

    @admin.action(description="Resume dunning…")
    def resume(self, request: HttpRequest, queryset: QuerySet[DunningCase]) -> Any:
        return self._confirm(
            request,
            queryset,
            action="resume",
            verb="Resume dunning",
            run=lambda case: services.case_resume(case_id=case.pk),
        )

    @admin.action(description="Close as written off…")
    def write_off(self, request: HttpRequest, queryset: QuerySet[DunningCase]) -> Any:
        return self._confirm(
            request,
            queryset,
            action="write_off",
            verb="Close as written off",
            run=lambda case: services.case_write_off(case_id=case.pk),
        )


@admin.register(DunningAction)
class DunningActionAdmin(admin.ModelAdmin):
    """Every scheduled step across cases; filter by status and due date."""

    list_display = (
        "due_at",
        "case",
        "kind",
        "detail",
        "attempt",
        "status",
        "runs",
        "decline_code",
    )
    list_filter = ("status", "kind", ("due_at", admin.DateFieldListFilter))
    list_select_related = ("case",)
    readonly_fields = [f.name for f in DunningAction._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
