"""Staff screens for orders, shipping and tax (failed steps: core's Workflow).

Actions call services; money and status fields are read-only; anything that
moves money or sends mail goes through a confirmation page.
"""

from apps.checkout.admin import customer, dashboard, orders, setup

__all__ = ["customer", "dashboard", "orders", "setup"]
