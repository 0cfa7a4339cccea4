"""Checkout and order reads with their ownership checks (404, never 403)."""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.apps import apps as django_apps
from django.db.models import (
    Count,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce, Lower
from django.utils import timezone

from apps.accounts.selectors import address_list_for_user
from apps.billing.gateway.types import IntentStatus, RefundStatus
from apps.billing.models import Payment, PaymentRefund
from apps.checkout.exceptions import CheckoutNotFound, OrderNotFound
from apps.checkout.models import (
    Checkout,
    Fulfilment,
    FulfilmentLine,
    Order,
    OrderLine,
    OrderNote,
)
from apps.core.models import AuditLog
from apps.core.money import Money
from apps.coupons.models import CouponRedemption
from apps.wallets.selectors import wallet_list_for_user

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from apps.accounts.models import User
    from apps.billing.models import PaymentRefund


def checkout_get(
    *, checkout_id: uuid.UUID | str, user: User | AnonymousUser | None = None
) -> Checkout:
    """Return the checkout if this client may see it.

    A signed-in shopper's checkout answers only to them; an anonymous one is
    reached by its unguessable id. Raise CheckoutNotFound otherwise.
    """
    try:
        checkout = Checkout.objects.select_related(
            "cart", "shipping_method", "user"
        ).get(pk=checkout_id)
    except (Checkout.DoesNotExist, ValueError, TypeError):
        raise CheckoutNotFound("Checkout not found.") from None
    owner = checkout.user_id or checkout.cart.user_id
    if owner is not None and (
        user is None or not user.is_authenticated or user.pk != owner
    ):
        raise CheckoutNotFound("Checkout not found.")
    return checkout


def checkout_get_for_cart(*, cart_id: uuid.UUID | str) -> Checkout | None:
    return (
        Checkout.objects.select_related("cart", "shipping_method", "user")
        .filter(cart_id=cart_id)
        .first()
    )


def _verified_emails(user: User) -> list[str]:
    from allauth.account.models import EmailAddress

    return [
        e.lower()
        for e in EmailAddress.objects.filter(user=user, verified=True).values_list(
            "email", flat=True
        )
    ]


def order_list_for_user(*, user: User | AnonymousUser | None) -> QuerySet[Order]:
    """The user's orders plus guest orders placed with a verified email of theirs.

    Pending-payment orders are left out; emails match whatever their case.
    """
    if user is None or not user.is_authenticated:
        return Order.objects.none()
    emails = _verified_emails(user)
    condition = Q(user=user)
    if emails:
        condition |= Q(user__isnull=True, email_lower__in=emails)
    return (
        Order.objects.alias(email_lower=Lower("email"))
        .filter(condition)
        .exclude(status=Order.Status.PENDING_PAYMENT)
        .order_by("-created_at", "-pk")
    )


def order_get_for_user(*, user: User | AnonymousUser | None, number: str) -> Order:
    """Return one of the user's orders with its lines. Raise OrderNotFound."""
    order = (
        order_list_for_user(user=user)
        .filter(number=number)
        .prefetch_related("lines")
        .first()
    )
    if order is None:
        raise OrderNotFound("Order not found.")
    return order


def order_get_for_checkout(*, checkout: Checkout) -> Order:
    order = Order.objects.filter(checkout=checkout).prefetch_related("lines").first()
    if order is None:
        raise OrderNotFound("This checkout has no order yet.")
    return order


def order_get_by_number(*, number: str) -> Order:
    order = Order.objects.filter(number=number).prefetch_related("lines").first()
    if order is None:
        raise OrderNotFound("Order not found.")
    return order


def order_detail_for_admin(*, order_id: int) -> Order:
    return Order.objects.prefetch_related("lines", "events").get(pk=order_id)


# --- back office -----------------------------------------------------------------


def _sum_per_order(queryset: QuerySet, order_path: str, expression: object) -> Coalesce:
    """A correlated subquery summing ``expression`` over one order's rows.

    A subquery rather than a join so that two sums never multiply each other.
    """
    summed = (
        queryset.filter(**{order_path: OuterRef("pk")})
        .order_by()
        .values(order_path)
        .annotate(total=Sum(expression))
        .values("total")
    )
    return Coalesce(Subquery(summed, output_field=IntegerField()), 0)


def order_list_for_admin(queryset: QuerySet[Order]) -> QuerySet[Order]:
    """Orders with ``item_count``, ``units_to_ship`` and ``units_shipped``.

    The customer comes joined, so a changelist costs the same for 1 or 100 rows.
    """
    return queryset.select_related("user").annotate(
        item_count=_sum_per_order(OrderLine.objects.all(), "order", F("quantity")),
        units_to_ship=_sum_per_order(
            OrderLine.objects.all(), "order", F("quantity") - F("refunded_quantity")
        ),
        units_shipped=_sum_per_order(
            FulfilmentLine.objects.all(), "order_line__order", F("quantity")
        ),
    )


def order_fulfilment_state(order: Order) -> str:
    """Describe how much of an annotated order (see above) has shipped."""
    if order.status in (Order.Status.PENDING_PAYMENT, Order.Status.CANCELLED):
        return "—"
    if order.status == Order.Status.FULFILLED:
        return "shipped"
    to_ship = getattr(order, "units_to_ship", 0)
    shipped = getattr(order, "units_shipped", 0)
    if to_ship <= 0:
        return "nothing to ship"
    if shipped <= 0:
        return "awaiting shipment"
    if shipped >= to_ship:
        return "shipped"
    return f"partially shipped ({shipped} of {to_ship})"


def order_customer_name(order: Order) -> str:
    """The customer's name: their account's, else the one on the address."""
    user = order.user
    if user is not None:
        name = user.name or f"{user.first_name} {user.last_name}".strip()
        if name:
            return name
    address = order.shipping_address or order.billing_address or {}
    return str(address.get("name") or "")


def orders_of_customer(
    *, email: str, user_id: int | None, exclude_id: int | None = None, limit: int = 20
) -> list[Order]:
    """The customer's orders (their account's, or placed with their email)."""
    condition = Q(email__iexact=email)
    if user_id is not None:
        condition |= Q(user_id=user_id)
    queryset = Order.objects.filter(condition).order_by("-created_at", "-pk")
    if exclude_id is not None:
        queryset = queryset.exclude(pk=exclude_id)
    return list(queryset[:limit])


def order_notes(*, order_id: int) -> QuerySet[OrderNote]:
    return OrderNote.objects.filter(order_id=order_id).select_related("author")


def order_fulfilments(*, order_id: int) -> QuerySet[Fulfilment]:
    return (
        Fulfilment.objects.filter(order_id=order_id)
        .select_related("created_by")
        .prefetch_related("lines__order_line")
    )


def order_lines_with_shipped(queryset: QuerySet[OrderLine]) -> QuerySet[OrderLine]:
    """Lines with ``units_shipped`` (summed over their parcels) and their order."""
    shipped = (
        FulfilmentLine.objects.filter(order_line=OuterRef("pk"))
        .order_by()
        .values("order_line")
        .annotate(total=Sum("quantity"))
        .values("total")
    )
    return queryset.select_related("order").annotate(
        units_shipped=Coalesce(Subquery(shipped, output_field=IntegerField()), 0)
    )


def orders_waiting_for_fulfilment(queryset: QuerySet[Order]) -> QuerySet[Order]:
    """Paid orders with units left to ship; ``queryset`` from order_list_for_admin."""
    return queryset.filter(
        Q(units_shipped__lt=F("units_to_ship")),
        status__in=[Order.Status.PAID, Order.Status.PARTIALLY_REFUNDED],
        requires_shipping=True,
    )


# --- staff dashboard ---------------------------------------------------------------

# Orders that were paid count as sales, whatever happened to them since; their
# refunds come off the revenue.
SOLD_STATUSES = (
    Order.Status.PAID,
    Order.Status.FULFILLED,
    Order.Status.PARTIALLY_REFUNDED,
    Order.Status.REFUNDED,
)


@dataclass(frozen=True, slots=True)
class SalesPeriod:
    """Orders paid since ``start`` and their revenue net of refunds, per currency."""

    label: str
    start: datetime.datetime
    orders: int
    revenue: tuple[Money, ...]


def _period_starts(now: datetime.datetime) -> list[tuple[str, datetime.datetime]]:
    today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    return [
        ("Today", today),
        ("This week", today - datetime.timedelta(days=today.weekday())),
        ("This month", today.replace(day=1)),
    ]


def sales_summary(*, now: datetime.datetime | None = None) -> list[SalesPeriod]:
    """Orders and revenue today, this week (from Monday) and this month.

    One query: each period is a filtered aggregate over the same rows, grouped
    by currency because amounts in different currencies never add up.
    """
    periods = _period_starts(now or timezone.now())
    earliest = min(start for _, start in periods)
    aggregates: dict[str, Any] = {}
    for index, (_, start) in enumerate(periods):
        in_period = Q(paid_at__gte=start)
        aggregates[f"orders_{index}"] = Count("pk", filter=in_period)
        aggregates[f"revenue_{index}"] = Coalesce(
            Sum(F("total_minor") - F("refunded_minor"), filter=in_period), 0
        )
    # Plain dicts: the aggregate keys are built above, unknown to the stubs.
    rows: list[dict[str, Any]] = [
        dict(row)
        for row in Order.objects.filter(status__in=SOLD_STATUSES, paid_at__gte=earliest)
        .order_by()
        .values("currency")
        .annotate(**aggregates)
        .order_by("currency")
    ]
    return [
        SalesPeriod(
            label=label,
            start=start,
            orders=sum(row[f"orders_{index}"] for row in rows),
            revenue=tuple(
                Money(int(row[f"revenue_{index}"]), row["currency"])
                for row in rows
                if row[f"orders_{index}"]
            ),
        )
        for index, (label, start) in enumerate(periods)
    ]


def orders_to_fulfil_summary(*, limit: int = 10) -> tuple[int, list[Order]]:
    """How many paid orders still have units to ship, and the oldest ``limit``."""
    waiting = orders_waiting_for_fulfilment(order_list_for_admin(Order.objects.all()))
    oldest = list(waiting.order_by("paid_at", "pk")[:limit])
    if len(oldest) < limit:
        return len(oldest), oldest
    return waiting.count(), oldest


def payments_failed_recent(*, days: int = 7, limit: int = 10) -> list[Payment]:
    """Payments whose last attempt was declined or errored, newest first."""
    since = timezone.now() - datetime.timedelta(days=days)
    return list(
        Payment.objects.exclude(last_error="")
        .exclude(status=IntentStatus.SUCCEEDED)
        .filter(updated_at__gte=since)
        .order_by("-updated_at", "-pk")[:limit]
    )


def refunds_recent(*, limit: int = 10) -> list[PaymentRefund]:
    """The latest refunds, with their payment (whose reference is the order)."""
    return list(
        PaymentRefund.objects.select_related("payment").order_by("-created_at", "-pk")[
            :limit
        ]
    )


# --- customer page (admin) ---------------------------------------------------------

CUSTOMER_PAGE_ROWS = 20


@dataclass(frozen=True, slots=True)
class CustomerSummary:
    """What the back office shows about one customer, in a fixed number of queries."""

    orders: list[Order]
    order_count: int
    lifetime_spend: tuple[Money, ...]
    addresses: list[Any]
    coupons_used: list[Any]
    wallets: list[Any]
    subscriptions: list[Any] | None  # None: no subscription model installed yet
    audit_trail: list[Any]


def _customer_orders_q(user: User) -> Q:
    return Q(user=user) | Q(user__isnull=True, email__iexact=user.email)


def customer_summary(*, user: User) -> CustomerSummary:
    """Orders (their account's and guest ones in their email), spend and history.

    Lifetime spend is net of refunds, per currency, over every paid order.
    """
    condition = _customer_orders_q(user)
    orders = list(
        order_list_for_admin(Order.objects.filter(condition)).order_by(
            "-created_at", "-pk"
        )[:CUSTOMER_PAGE_ROWS]
    )
    spend_rows = (
        Order.objects.filter(condition, status__in=SOLD_STATUSES)
        .order_by()
        .values("currency")
        .annotate(
            orders=Count("pk"),
            net=Coalesce(Sum(F("total_minor") - F("refunded_minor")), 0),
        )
        .order_by("currency")
    )
    spend = list(spend_rows)
    order_count = Order.objects.filter(condition).count()
    coupons = list(
        CouponRedemption.objects.filter(
            Q(user=user) | Q(email__iexact=user.email)
        ).select_related("coupon")[:CUSTOMER_PAGE_ROWS]
    )
    subscriptions = None
    # Issue 8 adds the model; until then the page keeps an empty slot. A
    # variable, not a literal, so the stubs do not resolve it at check time.
    app_label, model_name = "subscriptions", "Subscription"
    try:
        subscription_model = django_apps.get_model(app_label, model_name)
    except LookupError:
        pass
    else:
        subscriptions = list(
            subscription_model.objects.filter(user=user)[:CUSTOMER_PAGE_ROWS]
        )
    audit = Q(actor=user) | Q(object_type="accounts.user", object_id=str(user.pk))
    if orders:
        audit |= Q(
            object_type="checkout.order", object_id__in=[str(o.pk) for o in orders]
        )
    return CustomerSummary(
        orders=orders,
        order_count=order_count,
        lifetime_spend=tuple(Money(int(row["net"]), row["currency"]) for row in spend),
        addresses=list(address_list_for_user(user=user)),
        coupons_used=coupons,
        wallets=wallet_list_for_user(user=user),
        subscriptions=subscriptions,
        audit_trail=list(
            AuditLog.objects.filter(audit)
            .select_related("actor")
            .order_by("-created_at", "-pk")[:CUSTOMER_PAGE_ROWS]
        ),
    )


def order_refunds(*, order: Order) -> QuerySet[PaymentRefund]:
    """The refunds Stripe made on the order's payments, oldest first.

    Stripe's own rows (amount and time), not order events: a refund made in
    Stripe's dashboard is shown too once its webhook is recorded.
    """
    from apps.billing.models import PaymentRefund

    return PaymentRefund.objects.filter(
        payment__reference=order.number,
        status__in=[RefundStatus.SUCCEEDED, RefundStatus.PENDING],
    ).order_by("created_at", "pk")
