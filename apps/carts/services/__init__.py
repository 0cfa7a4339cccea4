"""Cart writes. Every write locks the cart row, checks the optional expected
version (optimistic concurrency for API clients) and bumps the version.

Adding to a cart never reserves stock; checkout does.
"""

from apps.carts.services.coupons import cart_coupon_apply, cart_coupon_remove
from apps.carts.services.lifecycle import (
    ExpiryResult,
    cart_create,
    cart_mark_checked_out,
    cart_payment_lock,
    cart_payment_unlock,
    cart_transition,
    carts_expire,
)
from apps.carts.services.lines import (
    cart_clear,
    cart_line_add,
    cart_line_remove,
    cart_line_set_quantity,
)
from apps.carts.services.merge import MergeResult, cart_merge

__all__ = [
    "ExpiryResult",
    "MergeResult",
    "cart_clear",
    "cart_coupon_apply",
    "cart_coupon_remove",
    "cart_create",
    "cart_line_add",
    "cart_line_remove",
    "cart_line_set_quantity",
    "cart_mark_checked_out",
    "cart_merge",
    "cart_payment_lock",
    "cart_payment_unlock",
    "cart_transition",
    "carts_expire",
]
