"""Reads for plans: one cached catalogue feeds the pricing page and the API.

The catalogue (every active plan, public and private, with active prices and
the feature definitions) is built in 3 queries and cached under a version key;
handlers.py bumps the version whenever a Feature, Plan or PlanPrice changes, so
a warm read costs no query.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core.cache import cache
from django.db.models import Prefetch, Q, QuerySet

from apps.subscriptions.exceptions import (
    InvoiceNotFound,
    PlanNotFound,
    SubscriptionNotFound,
    UnknownPlans,
)
from apps.subscriptions.models import (
    LIVE_STATUSES,
    Feature,
    Invoice,
    Plan,
    PlanAssignment,
    PlanPrice,
    ScheduledChange,
    Subscription,
)

VERSION_KEY = "subscriptions:catalogue:version"
CATALOGUE_TTL = 60 * 60


def catalogue_invalidate() -> None:
    cache.set(VERSION_KEY, uuid.uuid4().hex, None)


def price_is_used(*, price: PlanPrice) -> bool:
    """Whether a subscription has used this price (then it is immutable).

    The subscribe service (a later phase) stamps ``used_at``; this is the one
    place that answers the question, so that phase can widen it.
    """
    return price.used_at is not None


def yearly_saving_percent(*, monthly_minor: int, yearly_minor: int) -> int:
    """Whole percent saved by paying yearly instead of 12 months (floor)."""
    full = monthly_minor * 12
    if full <= 0 or yearly_minor >= full:
        return 0
    return (full - yearly_minor) * 100 // full


def _price_data(price: PlanPrice) -> dict[str, Any]:
    return {
        "id": price.pk,
        "interval": price.interval,
        "interval_count": price.interval_count,
        "amount_minor": price.amount_minor,
        "currency": price.currency,
    }


def _build_catalogue() -> dict[str, Any]:
    features = [
        {
            "key": f.key,
            "label": f.label,
            "kind": f.kind,
            "unit": f.unit,
            "description": f.description,
        }
        for f in Feature.objects.all()
    ]
    plans = Plan.objects.filter(status=Plan.Status.ACTIVE).prefetch_related(
        Prefetch(
            "prices",
            queryset=PlanPrice.objects.filter(active=True).order_by(
                "interval", "interval_count", "amount_minor"
            ),
        )
    )
    out = []
    for plan in plans:
        prices = [_price_data(p) for p in plan.prices.all()]
        monthly = next(
            (
                p
                for p in prices
                if p["interval"] == "month" and p["interval_count"] == 1
            ),
            None,
        )
        yearly = next(
            (p for p in prices if p["interval"] == "year" and p["interval_count"] == 1),
            None,
        )
        saving = 0
        if monthly and yearly and monthly["currency"] == yearly["currency"]:
            saving = yearly_saving_percent(
                monthly_minor=monthly["amount_minor"],
                yearly_minor=yearly["amount_minor"],
            )
        out.append(
            {
                "slug": plan.slug,
                "name": plan.name,
                "description": plan.description,
                "public": plan.visibility == Plan.Visibility.PUBLIC,
                "trial_days": plan.trial_days,
                "features": plan.features,
                "limits": plan.limits,
                "prices": prices,
                "yearly_saving_percent": saving,
            }
        )
    return {"features": features, "plans": out}


def catalogue() -> dict[str, Any]:
    version = cache.get(VERSION_KEY)
    if version is None:
        version = uuid.uuid4().hex
        cache.set(VERSION_KEY, version, None)
    key = f"subscriptions:catalogue:{version}"
    data = cache.get(key)
    if data is None:
        data = _build_catalogue()
        cache.set(key, data, CATALOGUE_TTL)
    return data


def plans_public() -> list[dict[str, Any]]:
    return [p for p in catalogue()["plans"] if p["public"]]


def plan_get_by_slug(*, slug: str) -> dict[str, Any]:
    """An active plan by slug; private plans are reachable this way."""
    for plan in catalogue()["plans"]:
        if plan["slug"] == slug:
            return plan
    raise PlanNotFound(slug)


def plans_compare(*, slugs: list[str]) -> dict[str, Any]:
    """A feature matrix: one row per feature, one value per requested plan."""
    data = catalogue()
    by_slug = {p["slug"]: p for p in data["plans"]}
    unknown = [s for s in slugs if s not in by_slug]
    if unknown or not slugs:
        raise UnknownPlans(unknown or ["(none given)"])
    plans = [by_slug[s] for s in slugs]
    rows = [
        {
            "feature": feature,
            "values": [p["features"].get(feature["key"]) for p in plans],
        }
        for feature in data["features"]
    ]
    return {"plans": plans, "rows": rows}


def pricing_page(*, interval: str) -> dict[str, Any]:
    """What /pricing/ shows for "month" or "year": each plan's price then."""
    data = catalogue()
    cards = []
    for plan in plans_public():
        price = next(
            (
                p
                for p in plan["prices"]
                if p["interval"] == interval and p["interval_count"] == 1
            ),
            None,
        )
        cards.append({**plan, "price": price})
    rows = [
        {"feature": f, "values": [c["features"].get(f["key"]) for c in cards]}
        for f in data["features"]
    ]
    return {"plans": cards, "rows": rows}


# --- subscriptions ------------------------------------------------------------


def subscription_list_for_user(*, user: Any) -> QuerySet[Subscription]:
    """The user's subscriptions, newest first (at most one is live).

    Each carries ``pending_changes``: its scheduled change, if any (a list of
    at most one, with the new price and plan).
    """
    pending = ScheduledChange.objects.filter(
        status=ScheduledChange.Status.PENDING
    ).select_related("to_price__plan")
    return (
        Subscription.objects.filter(user=user)
        .select_related("price__plan")
        .prefetch_related(
            Prefetch("scheduled_changes", queryset=pending, to_attr="pending_changes")
        )
    )


def subscription_get_for_user(*, user: Any, subscription_id: int) -> Subscription:
    """Raise SubscriptionNotFound for another user's id: existence never leaks."""
    sub = subscription_list_for_user(user=user).filter(pk=subscription_id).first()
    if sub is None:
        raise SubscriptionNotFound(subscription_id)
    return sub


def subscription_current_for_user(*, user: Any) -> Subscription | None:
    """The live subscription, else the latest one (for the account page)."""
    subs = subscription_list_for_user(user=user)
    return subs.filter(status__in=LIVE_STATUSES).first() or subs.first()


def invoice_list_for_user(*, user: Any) -> QuerySet[Invoice]:
    return Invoice.objects.filter(user=user).order_by("-issued_at", "-pk")


def invoice_get_for_user(*, user: Any, invoice_id: int) -> Invoice:
    """One of the user's invoices with its lines; raise InvoiceNotFound."""
    invoice = (
        invoice_list_for_user(user=user)
        .prefetch_related("lines")
        .filter(pk=invoice_id)
        .first()
    )
    if invoice is None:
        raise InvoiceNotFound(invoice_id)
    return invoice


def licence_list_for_user(*, user: Any) -> list[Any]:
    """The user's keys, newest first, each with its seated devices."""
    from apps.subscriptions.licence_models import LicenceDevice, LicenceKey

    return list(
        LicenceKey.objects.filter(user=user)
        .select_related("subscription__price__plan")
        .prefetch_related(
            Prefetch(
                "devices",
                queryset=LicenceDevice.objects.filter(released_at__isnull=True),
                to_attr="seated_devices",
            )
        )
        .order_by("-created_at", "-pk")[:50]
    )


# --- private plans --------------------------------------------------------------


def plan_is_available_to(*, plan: Plan, user: Any) -> bool:
    """Public plans are everyone's; a private one only its assigned users'."""
    if plan.visibility == Plan.Visibility.PUBLIC:
        return True
    if not getattr(user, "is_authenticated", False):
        return False
    return PlanAssignment.objects.filter(plan=plan, user=user).exists()


def plan_prices_assigned_to(*, user: Any) -> list[PlanPrice]:
    """Active prices of the active private plans staff offered this user."""
    return list(
        PlanPrice.objects.filter(
            active=True,
            plan__status=Plan.Status.ACTIVE,
            plan__assignments__user=user,
        )
        .exclude(stripe_price_id="")
        .select_related("plan")
        .order_by("plan__sort_order", "interval", "amount_minor")
    )


def plan_price_get(*, price_id: int) -> PlanPrice | None:
    return PlanPrice.objects.select_related("plan").filter(pk=price_id).first()


def plan_prices_for_change(*, subscription: Subscription, user: Any) -> list[PlanPrice]:
    """Prices the subscriber may move to: same currency, offered to them."""
    offered = Q(plan__visibility=Plan.Visibility.PUBLIC) | Q(
        plan__assignments__user=user
    )
    return list(
        PlanPrice.objects.filter(
            offered,
            active=True,
            plan__status=Plan.Status.ACTIVE,
            currency=subscription.price.currency,
        )
        .exclude(stripe_price_id="")
        .exclude(pk=subscription.price_id)
        .select_related("plan")
        .distinct()
        .order_by("plan__sort_order", "interval", "amount_minor")
    )
