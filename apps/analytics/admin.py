"""Admin: exchange rates are entered by staff; computed rows are read-only.

The admin home links to the dashboard through a dashboard panel (core's
template has the slot; core cannot import analytics).
"""

from typing import Any

from django.contrib import admin
from django.db.models import Subquery
from django.http import HttpRequest
from django.urls import reverse

from apps.analytics.models import DailyMetrics, ExchangeRate
from apps.core.admin_site import dashboard_panel


@dashboard_panel
def analytics_panel(request: HttpRequest) -> dict[str, Any]:
    """The link to /staff/analytics/ and the latest MRR per currency."""
    if not request.user.is_staff:
        return {}
    # One query: the latest day's rows, whatever the number of currencies.
    rows = list(
        DailyMetrics.objects.filter(
            day=Subquery(DailyMetrics.objects.order_by("-day").values("day")[:1])
        ).only("day", "currency", "mrr_minor")
    )
    return {
        "analytics_dashboard": {
            "url": reverse("analytics:dashboard"),
            "day": rows[0].day if rows else None,
            "mrr": rows,
        }
    }


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    list_display = ["day", "currency", "reporting_currency", "rate", "source"]
    list_filter = ["currency", "reporting_currency"]
    date_hierarchy = "day"


@admin.register(DailyMetrics)
class DailyMetricsAdmin(admin.ModelAdmin):
    list_display = ["day", "currency", "mrr_minor", "net_new_minor", "gmv_minor"]
    list_filter = ["currency"]
    date_hierarchy = "day"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
