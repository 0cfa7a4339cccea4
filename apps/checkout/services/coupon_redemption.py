"""Coupon redemption when an order is paid: counted, limited, exact under
concurrency (the customer's lock is held until the payment's transaction ends)."""

from __future__ import annotations

from django.db.models import Q

from apps.checkout.models import Order
from apps.checkout.services.orders import PAID_STATUSES
from apps.coupons import selectors as coupon_selectors
from apps.coupons import services as coupon_services


def _customer_key(order: Order) -> str:
    return (
        coupon_selectors.customer_key_for(user_id=order.user_id, email=order.email)
        or f"email:{order.email}"
    )


def _verified_emails(user_id: int) -> list[str]:
    from allauth.account.models import EmailAddress

    return list(
        EmailAddress.objects.filter(user_id=user_id, verified=True).values_list(
            "email", flat=True
        )
    )


def customer_order_count(customer_key: str) -> int:
    """How many orders this customer has paid (coupons' first-order rule)."""
    kind, _, value = customer_key.partition(":")
    qs = Order.objects.filter(status__in=PAID_STATUSES)
    if kind == "user":
        # Guest orders placed before signing up, under a verified email of
        # theirs, are the user's orders too.
        condition = Q(user_id=int(value))
        for email in _verified_emails(int(value)):
            condition |= Q(user__isnull=True, email__iexact=email)
        return qs.filter(condition).count()
    return qs.filter(email__iexact=value).count()


def _customer_lock_keys(order: Order, customer_key: str) -> list[str]:
    """Every key another order of this customer could be counted under.

    A user's orders and guest orders under any of their verified emails
    count as one customer, and per-customer limits also match by email, so
    all of them are locked: two orders of one customer then share a key.
    """
    keys = [customer_key]
    if order.email:
        keys.append(f"email:{order.email}")
    if order.user_id:
        keys += [f"email:{email}" for email in _verified_emails(order.user_id)]
    return keys


def _redeem_coupons(order: Order) -> None:
    """Count the order's coupon uses, all or none, exactly under concurrency.

    Call inside the transaction that marks the order paid. The customer's
    lock is taken for every order, with or without coupons, and held until
    that transaction commits: a concurrent order of the same customer then
    waits, and counts this one among the paid orders once it proceeds. The
    paid-order count is read only after the lock, so "first order" and
    per-customer limits are re-checked against every committed order.
    """
    key = _customer_key(order)
    coupon_services.customer_redemptions_lock(
        customer_keys=_customer_lock_keys(order, key)
    )
    if not order.coupons:
        return
    coupon_services.order_coupons_redeem(
        requests=[
            coupon_services.RedemptionRequest(
                code=coupon["code"], discount_minor=int(coupon["discount_minor"])
            )
            for coupon in order.coupons
        ],
        order_ref=order.number,
        customer_key=key,
        currency=order.currency,
        customer_order_count=customer_order_count(key),
        user_id=order.user_id,
        email=order.email,
    )
