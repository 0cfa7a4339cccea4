import pytest


@pytest.fixture
def reset_order_count_provider():
    """Let a test register its own order counter; put checkout's back after.

    Checkout registers the real one once, at startup (CheckoutConfig.ready);
    clearing it would silently turn first-order-only off for later tests.
    """
    from apps.coupons.selectors import (
        customer_order_count_provider_get,
        customer_order_count_provider_register,
    )

    previous = customer_order_count_provider_get()
    yield
    customer_order_count_provider_register(previous)
