"""The staff dashboard on the admin home: sales, work waiting, and trouble.

Every number comes from a selector; the page stays within a fixed number of
queries whatever the size of the shop (pinned in a test).
"""

from typing import Any

from django.http import HttpRequest

from apps.checkout import selectors
from apps.core.admin_site import dashboard_panel
from apps.inventory.selectors import LOW_STOCK_THRESHOLD, variants_low_stock

PANEL_ROWS = 10


@dashboard_panel
def sales_and_work_panel(request: HttpRequest) -> dict[str, Any]:
    """Sales, orders to ship, low stock, failed payments and recent refunds."""
    user = request.user
    if not user.has_perm("checkout.view_order"):
        # Revenue is not for every member of staff.
        return {}
    waiting_count, waiting = selectors.orders_to_fulfil_summary(limit=PANEL_ROWS)
    return {
        "dashboard": {
            "sales": selectors.sales_summary(),
            "waiting_count": waiting_count,
            "waiting": [
                (order, selectors.order_customer_name(order)) for order in waiting
            ],
            "low_stock": variants_low_stock(limit=PANEL_ROWS),
            "low_stock_threshold": LOW_STOCK_THRESHOLD,
            "failed_payments": selectors.payments_failed_recent(limit=PANEL_ROWS),
            "refunds": selectors.refunds_recent(limit=PANEL_ROWS),
        }
    }
