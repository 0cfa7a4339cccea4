"""Staff screens for orders, shipping, tax and failed workflows.

Actions call services; money and status fields are read-only; anything that
moves money or sends mail goes through a confirmation page.
"""

from apps.checkout.admin import orders, setup

__all__ = ["orders", "setup"]
