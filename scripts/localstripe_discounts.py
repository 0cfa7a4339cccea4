"""The runner's ``subscription_discounts`` shim: coupons on subscriptions.

Published localstripe stores coupons but its subscriptions refuse
``discounts`` / ``coupon`` (400 Unexpected) and its invoices never discount.
This patches both, as Stripe does: a subscription created or updated with
``discounts[0][coupon]`` (or the legacy ``coupon``) carries a discount, and
each invoice of it (previews included) takes the coupon off its subtotal while
the coupon's duration lasts (``once``: the first invoice; ``repeating``: N
months from the start; ``forever``). Loaded by scripts/localstripe_runner.py
only; kept apart because the runner is long enough.
"""

from __future__ import annotations

import calendar
import datetime as dt
import secrets
import time

from localstripe import resources
from localstripe.errors import UserError


def _add_months(ts: int, months: int) -> int:
    start = dt.datetime.fromtimestamp(ts, tz=dt.UTC)
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return int(start.replace(year=year, month=month, day=day).timestamp())


def _coupon_id(discounts, coupon) -> str | None:
    """The coupon asked for; "" means remove the discount, None leave it."""
    if discounts is not None:
        if discounts in ("", []):
            return ""
        if not isinstance(discounts, list) or len(discounts) != 1:
            raise UserError(400, "Bad request")
        coupon = (discounts[0] or {}).get("coupon")
    if coupon is None:
        return None
    if coupon == "":
        return ""
    if not isinstance(coupon, str):
        raise UserError(400, "Bad request")
    resources.Coupon._api_retrieve(coupon)  # 404 if unknown
    return coupon


def _attach(sub, coupon_id: str) -> None:
    if coupon_id == "":
        sub._shop_discount = None
        sub.discount = None
        return
    coupon = resources.Coupon._api_retrieve(coupon_id)
    start = int(time.time())
    end = None
    if coupon.duration == "repeating":
        end = _add_months(start, coupon.duration_in_months)
    sub._shop_discount = {"coupon": coupon_id, "start": start, "end": end, "used": 0}
    coupon.times_redeemed += 1
    sub.discount = {
        "id": "di_" + secrets.token_hex(12),
        "object": "discount",
        "coupon": coupon._export(),
        "customer": sub.customer,
        "subscription": sub.id,
        "start": start,
        "end": end,
    }


def _discount_for(invoice, *, counting: bool) -> int:
    """The amount the subscription's coupon takes off this invoice."""
    if not invoice.subscription:
        return 0
    sub = resources.Subscription._api_retrieve(invoice.subscription)
    state = getattr(sub, "_shop_discount", None)
    if not state:
        return 0
    coupon = resources.Coupon._api_retrieve(state["coupon"])
    if coupon.duration == "once" and state["used"]:
        return 0
    if state["end"] is not None and int(time.time()) >= state["end"]:
        return 0
    subtotal = invoice.subtotal
    if coupon.percent_off is not None:
        amount = int(subtotal * coupon.percent_off / 100 + 0.5)
    elif (coupon.currency or "").lower() == (invoice.currency or "").lower():
        amount = coupon.amount_off
    else:
        return 0
    amount = max(0, min(amount, subtotal))
    if counting and amount:
        state["used"] += 1
    return amount


def install() -> None:
    Subscription = resources.Subscription
    Invoice = resources.Invoice
    original_sub_init = Subscription.__init__
    original_create_invoice = Subscription._create_invoice
    original_sub_update = Subscription._update
    original_invoice_init = Invoice.__init__
    original_total = Invoice.total
    pending: list[str] = []

    def sub_init(self, discounts=None, coupon=None, **data):
        coupon_id = _coupon_id(discounts, coupon)
        pending.append(coupon_id or "")
        try:
            original_sub_init(self, **data)
        finally:
            pending.pop()
        if coupon_id and getattr(self, "_shop_discount", None) is None:
            _attach(self, coupon_id)  # a trial: no invoice was created

    def create_invoice(self):
        # The first invoice is made inside __init__: attach the coupon first.
        if pending and pending[-1] and getattr(self, "_shop_discount", None) is None:
            _attach(self, pending[-1])
        return original_create_invoice(self)

    def sub_update(self, discounts=None, coupon=None, **data):
        coupon_id = _coupon_id(discounts, coupon)
        original_sub_update(self, **data)
        if coupon_id is not None:
            _attach(self, coupon_id)

    def invoice_init(self, *args, **kwargs):
        original_invoice_init(self, *args, **kwargs)
        preview = kwargs.get("upcoming") or kwargs.get("simulation")
        self._shop_discount_minor = _discount_for(self, counting=not preview)
        if self._shop_discount_minor:
            sub = Subscription._api_retrieve(self.subscription)
            self.discount = sub.discount

    def total(self):
        base = original_total.fget(self)
        return max(0, base - getattr(self, "_shop_discount_minor", 0))

    def total_discount_amounts(self):
        amount = getattr(self, "_shop_discount_minor", 0)
        if not amount:
            return []
        return [{"amount": amount, "discount": (self.discount or {}).get("id")}]

    Subscription.__init__ = sub_init
    Subscription._create_invoice = create_invoice
    Subscription._update = sub_update
    Invoice.__init__ = invoice_init
    Invoice.total = property(total)
    Invoice.total_discount_amounts = property(total_discount_amounts)
