"""Usage in admin: raw events (read-only) and one page per customer with the
current windows and a chart of the last 30 days."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from apps.core.admin_display import RecordAdminMixin, money_column
from apps.subscriptions.usage.models import (
    MeteredPrice,
    UsageEvent,
    UsageOverageCharge,
)
from apps.subscriptions.usage.selectors import usage_current, usage_last_days

CHART_DAYS = 30
BAR_WIDTH = 10
CHART_HEIGHT = 80


def chart_bars(days: list[tuple[Any, int]], peak: int) -> list[dict[str, Any]]:
    """SVG rectangles, one per day, scaled to the busiest day."""
    bars = []
    for i, (day, quantity) in enumerate(days):
        height = round(quantity * CHART_HEIGHT / peak) if peak else 0
        bars.append(
            {
                "x": i * BAR_WIDTH,
                "y": CHART_HEIGHT - height,
                "height": height,
                "width": BAR_WIDTH - 2,
                "day": day,
                "quantity": quantity,
            }
        )
    return bars


@admin.register(UsageEvent)
class UsageEventAdmin(RecordAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "user_usage", "metric", "quantity", "source")
    list_filter = ("metric", "source")
    list_select_related = ("user",)
    search_fields = ("user__email", "idempotency_key")
    date_hierarchy = "created_at"
    readonly_fields = (
        "user",
        "metric",
        "quantity",
        "idempotency_key",
        "source",
        "created_at",
    )
    show_full_result_count = False  # a COUNT(*) over months of events is slow

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    @admin.display(description="User", ordering="user__email")
    def user_usage(self, obj: UsageEvent) -> str:
        url = reverse("admin:subscriptions_usage_user", args=[obj.user_id])
        return format_html('<a href="{}">{}</a>', url, obj.user)

    def get_urls(self) -> list[Any]:
        return [
            path(
                "user/<int:user_id>/",
                self.admin_site.admin_view(self.user_usage_view),
                name="subscriptions_usage_user",
            ),
            *super().get_urls(),
        ]

    def user_usage_view(self, request: HttpRequest, user_id: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise Http404
        user = get_user_model().objects.filter(pk=user_id).first()
        if user is None:
            raise Http404
        metrics = usage_last_days(user=user, days=CHART_DAYS)
        for metric in metrics:
            metric["bars"] = chart_bars(metric["days"], metric["peak"])
        context = {
            **self.admin_site.each_context(request),
            "title": f"Usage of {user}",
            "opts": self.model._meta,
            "customer": user,
            "windows": usage_current(user=user),
            "metrics": metrics,
            "chart_width": CHART_DAYS * BAR_WIDTH,
            "chart_height": CHART_HEIGHT,
            "days": CHART_DAYS,
        }
        return TemplateResponse(request, "admin/subscriptions/usage_user.html", context)


@admin.register(MeteredPrice)
class MeteredPriceAdmin(admin.ModelAdmin):
    """Overage prices are in minor units here; a metric the plan hard-limits
    is never billed (see usage.overage)."""

    list_display = ("plan", "metric", "included", "block_size", "block_amount_minor")
    list_select_related = ("plan",)
    autocomplete_fields = ("plan",)


@admin.register(UsageOverageCharge)
class UsageOverageChargeAdmin(RecordAdminMixin, admin.ModelAdmin):
    list_display = (
        "subscription",
        "metric",
        "period_start",
        "billed_units",
        "amount",
        "stripe_invoice_item_id",
    )
    list_select_related = ("subscription",)
    amount = money_column("amount_minor", "Amount")

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False
