"""Endpoints (secret shown once) and deliveries with every attempt."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from apps.core.admin_display import RecordAdminMixin
from apps.core.exceptions import ApplicationError
from apps.webhooks import services
from apps.webhooks.models import Delivery, DeliveryAttempt, Endpoint
from apps.webhooks.services.endpoints import event_types_clean, url_clean


class EndpointForm(forms.ModelForm):
    url = forms.URLField(
        max_length=500, assume_scheme="https", widget=forms.URLInput({"size": 80})
    )
    event_types_text = forms.CharField(
        label="Event types",
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One pattern a line: order.*, subscription.*, invoice.*, "
        "dunning.*, licence.*, or an exact type such as order.paid.",
    )

    class Meta:
        model = Endpoint
        fields = ("url", "description", "is_active")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["event_types_text"].initial = "\n".join(
                self.instance.event_types
            )

    def clean_url(self) -> str:
        return url_clean(self.cleaned_data["url"])

    def clean_event_types_text(self) -> list[str]:
        return event_types_clean(self.cleaned_data["event_types_text"].split())


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    form = EndpointForm
    list_display = (
        "url",
        "description",
        "is_active",
        "types",
        "consecutive_dead_count",
        "disabled_reason",
    )
    list_filter = ("is_active",)
    search_fields = ("url", "description")
    readonly_fields = (
        "secret_hint",
        "consecutive_dead_count",
        "disabled_reason",
        "disabled_at",
        "created_at",
    )
    actions = ["resend_failed", "rotate_secret"]

    @admin.display(description="Event types")
    def types(self, obj: Endpoint) -> str:
        return ", ".join(obj.event_types)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Deliveries are records; switch an endpoint off instead.
        return False

    def save_model(
        self, request: HttpRequest, obj: Endpoint, form: Any, change: bool
    ) -> None:
        data = form.cleaned_data
        if change:
            services.endpoint_update(
                endpoint_id=obj.pk,
                url=data["url"],
                event_types=data["event_types_text"],
                description=data["description"],
                is_active=data["is_active"],
            )
            return
        endpoint, secret = services.endpoint_create(
            url=data["url"],
            event_types=data["event_types_text"],
            description=data["description"],
            is_active=data["is_active"],
        )
        obj.pk = endpoint.pk
        self._show_secret(request, endpoint, secret)

    def _show_secret(self, request: HttpRequest, endpoint: Endpoint, secret: str):
        self.message_user(
            request,
            format_html(
                "Signing secret for {}: <code>{}</code>. Copy it now: "
                "it is not shown again.",
                endpoint.url,
                secret,
            ),
            messages.WARNING,
        )

    @admin.action(description="Resend all failed deliveries", permissions=["change"])
    def resend_failed(self, request: HttpRequest, queryset: QuerySet[Endpoint]):
        count = services.deliveries_resend_failed(
            endpoint_ids=list(queryset.values_list("pk", flat=True))
        )
        self.message_user(request, f"{count} deliveries queued again.")

    @admin.action(description="Give a new signing secret", permissions=["change"])
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[Endpoint]):
        for endpoint in queryset.order_by("pk"):
            endpoint, secret = services.endpoint_secret_rotate(endpoint_id=endpoint.pk)
            self._show_secret(request, endpoint, secret)


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = (
        "number",
        "started_at",
        "duration_ms",
        "response_code",
        "error",
        "response_snippet",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(RecordAdminMixin, admin.ModelAdmin):
    list_display = (
        "event_type",
        "event_id",
        "endpoint",
        "status",
        "attempts",
        "last_response_code",
        "next_attempt_at",
        "created_at",
    )
    list_filter = ("status", "event_type")
    list_select_related = ("endpoint",)
    search_fields = ("event_type", "endpoint__url")
    readonly_fields = (
        "endpoint",
        "event_id",
        "event_type",
        "status",
        "attempts",
        "next_attempt_at",
        "last_attempt_at",
        "last_response_code",
        "last_error",
        "response_snippet",
        "request_headers",
        "request_body",
        "succeeded_at",
        "dead_at",
        "created_at",
    )
    fields = readonly_fields
    inlines = [DeliveryAttemptInline]
    actions = ["resend"]

    @admin.display(description="Request body")
    def request_body(self, obj: Delivery) -> str:
        try:
            pretty = json.dumps(json.loads(obj.body), indent=2)
        except ValueError:
            pretty = obj.body
        return format_html("<pre>{}</pre>", pretty)

    @admin.display(description="Request headers (last attempt)")
    def request_headers(self, obj: Delivery) -> str:
        last = obj.attempt_records.order_by("-pk").first()
        if last is None:
            return "-"
        return format_html("<pre>{}</pre>", json.dumps(last.request_headers, indent=2))

    @admin.action(description="Resend selected deliveries", permissions=["change"])
    def resend(self, request: HttpRequest, queryset: QuerySet[Delivery]):
        sent = 0
        for pk in queryset.order_by("pk").values_list("pk", flat=True):
            try:
                services.delivery_resend(delivery_id=pk)
            except ApplicationError as exc:
                self.message_user(request, f"Delivery {pk}: {exc.message}", "error")
            else:
                sent += 1
        self.message_user(request, f"{sent} deliveries queued again.")
