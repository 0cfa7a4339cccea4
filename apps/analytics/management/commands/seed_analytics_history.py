"""Demo history for the analytics dashboard: 12 months of subscriptions and orders.

Writes rows straight into our own tables, as if Stripe's webhooks had been
applied over a year: subscriptions (new, upgrades, downgrades, past_due that
recovers, churn, reactivation) with their event history, and paid orders.
Then computes the analytics rows for the period. Idempotent: it does nothing
when the demo history exists. Deterministic (a fixed random seed).
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from apps.analytics.services.jobs import range_compute
from apps.checkout.models import Order, OrderLine
from apps.subscriptions.models import PlanPrice, Subscription, SubscriptionEvent
from apps.subscriptions.models import SubscriptionStatus as SS

CUSTOMERS = 120
ORDERS_PER_DAY = (0, 6)
PREFIX = "sub_demo_"


class Command(BaseCommand):
    help = "Create 12 months of demo subscriptions and orders, then compute analytics."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--days", type=int, help="Default: settings.ANALYTICS_DEMO_DAYS (365)."
        )

    def handle(self, *args: Any, days: int | None, **options: Any) -> None:
        days = days or settings.ANALYTICS_DEMO_DAYS
        if Subscription.objects.filter(stripe_id__startswith=PREFIX).exists():
            self.stdout.write("Analytics demo history already present.")
            return
        prices = list(
            PlanPrice.objects.filter(active=True, amount_minor__gt=0).order_by("pk")
        )
        if not prices:
            self.stdout.write("No priced plans (run seed_plans): no demo history.")
            return
        today = timezone.now().date()
        start = today - dt.timedelta(days=days)
        rng = random.Random(16)  # noqa: S311 - demo data, not security
        with transaction.atomic():
            customers = self._subscriptions(rng, prices, start, days)
            orders = self._orders(rng, start, days)
        self.stdout.write(
            f"Demo history: {customers} customers, {orders} orders over {days} days."
        )
        range_compute(start=start, end=today - dt.timedelta(days=1))
        self.stdout.write("Analytics computed for the demo period.")

    def _subscriptions(
        self, rng: random.Random, prices: list[PlanPrice], start: dt.date, days: int
    ) -> int:
        user_model = get_user_model()
        for n in range(CUSTOMERS):
            user, _ = user_model.objects.get_or_create(
                email=f"demo-customer-{n}@example.com",
                defaults={"name": f"Demo customer {n}"},
            )
            price = rng.choice(prices)
            same_currency = [p for p in prices if p.currency == price.currency]
            t = _at(start, rng.randrange(days))
            steps: list[tuple[dt.datetime, str, PlanPrice, dict]] = []
            if rng.random() < 0.2:
                steps.append((t, SS.TRIALING, price, {}))
                t += dt.timedelta(days=14)
                if rng.random() < 0.3:
                    steps.append((t, SS.CANCELED, price, {}))
                    _write(user, steps, 0)
                    continue
            steps.append((t, SS.ACTIVE, price, {}))
            for _ in range(rng.randrange(4)):
                t += dt.timedelta(days=rng.randrange(10, 90))
                roll = rng.random()
                if roll < 0.35:
                    to = rng.choice(same_currency)
                    if to.pk != price.pk:
                        steps.append(
                            (
                                t,
                                SS.ACTIVE,
                                to,
                                {"from_price": price.pk, "to_price": to.pk},
                            )
                        )
                        price = to
                elif roll < 0.5:
                    steps.append((t, SS.PAST_DUE, price, {}))
                    t += dt.timedelta(days=rng.randrange(1, 8))
                    steps.append((t, SS.ACTIVE, price, {}))
                else:
                    steps.append((t, SS.CANCELED, price, {}))
                    break
            now = timezone.now()
            steps = [s for s in steps if s[0] < now]
            _write(user, steps, 0)
            if steps[-1][1] == SS.CANCELED and rng.random() < 0.3:
                back = steps[-1][0] + dt.timedelta(days=rng.randrange(20, 60))
                if back < now:
                    _write(user, [(back, SS.ACTIVE, price, {})], 1)
        return CUSTOMERS

    def _orders(self, rng: random.Random, start: dt.date, days: int) -> int:
        count = 0
        for offset in range(days):
            for _ in range(rng.randrange(*ORDERS_PER_DAY)):
                count += 1
                when = _at(start, offset)
                qty = rng.randrange(1, 4)
                unit = rng.choice((1200, 1900, 2500, 4500))
                subtotal = qty * unit
                discount = subtotal // 10 if rng.random() < 0.2 else 0
                total = subtotal - discount + 500
                paid = rng.random() < 0.85
                order = Order.objects.create(
                    number=f"DEMO-{count:05d}",
                    email=f"shopper{count}@example.com",
                    status="paid" if paid else "cancelled",
                    currency="USD" if rng.random() < 0.8 else "EUR",
                    subtotal_minor=subtotal,
                    discount_minor=discount,
                    shipping_minor=500,
                    total_minor=total,
                    paid_at=when + dt.timedelta(minutes=3) if paid else None,
                )
                OrderLine.objects.create(
                    order=order,
                    sku="DEMO-MUG",
                    title="Demo mug",
                    quantity=qty,
                    unit_price_minor=unit,
                    subtotal_minor=subtotal,
                    discount_minor=discount,
                    total_minor=subtotal - discount,
                )
                Order.objects.filter(pk=order.pk).update(created_at=when)
        return count


def _at(start: dt.date, offset: int) -> dt.datetime:
    day = start + dt.timedelta(days=offset)
    return dt.datetime.combine(day, dt.time(10), tzinfo=dt.UTC)


def _write(user: Any, steps: list, index: int) -> None:
    """Store a subscription and its history at the steps' times."""
    final_time, final_status, final_price, _ = steps[-1]
    sub = Subscription.objects.create(
        user=user,
        price=final_price,
        status=final_status,
        stripe_id=f"{PREFIX}{user.pk}_{index}",
        started_at=steps[0][0],
        ended_at=final_time if final_status == SS.CANCELED else None,
    )
    Subscription.objects.filter(pk=sub.pk).update(created_at=steps[0][0])
    source = ""
    for when, status, price, details in steps:
        event = SubscriptionEvent.objects.create(
            subscription=sub,
            from_status=source,
            to_status=status,
            reason="demo",
            actor="system",
            amount_minor=price.amount_minor,
            currency=price.currency,
            details=details,
        )
        SubscriptionEvent.objects.filter(pk=event.pk).update(created_at=when)
        source = status
