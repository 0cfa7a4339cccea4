"""The customer part of a user's admin page: orders, spend, credit, history.

Registered with core's admin site because accounts, which owns the page,
cannot import the apps that know these things.
"""

from typing import Any

from django.http import HttpRequest

from apps.checkout import selectors
from apps.core.admin_site import customer_panel


@customer_panel
def customer_summary_panel(request: HttpRequest, user: Any) -> dict[str, Any]:
    if not request.user.has_perm("checkout.view_order"):
        return {}
    summary = selectors.customer_summary(user=user)
    return {
        "customer": summary,
        "customer_orders": [
            (order, selectors.order_fulfilment_state(order)) for order in summary.orders
        ],
    }
