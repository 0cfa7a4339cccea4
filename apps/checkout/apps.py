from django.apps import AppConfig


class CheckoutConfig(AppConfig):
    name = "apps.checkout"
    label = "checkout"

    def ready(self) -> None:
        from apps.checkout import (
            handlers,  # noqa: F401
            metrics,
            workflows,  # noqa: F401  registers retry handlers
        )
        from apps.checkout.services import customer_order_count
        from apps.checkout.services.pricing_config import connect_signals
        from apps.coupons.selectors import customer_order_count_provider_register

        customer_order_count_provider_register(customer_order_count)
        metrics.connect()
        connect_signals()  # the cached pricing setup goes stale on edits
