"""Plans with features and limits, and subscribers on them (local rows only)."""

from tests.accounts.factories import UserFactory
from tests.subscriptions.factories import (
    FeatureFactory,
    PlanFactory,
    PlanPriceFactory,
    SubscriptionFactory,
)


def plan_with(*, slug, features=None, limits=None, **kw):
    for key, value in (features or {}).items():
        kind = "boolean" if isinstance(value, bool) else "number"
        FeatureFactory(key=key, kind=kind)
    plan = PlanFactory(slug=slug, features=features or {}, limits=limits or {}, **kw)
    PlanPriceFactory(plan=plan)
    return plan


def subscriber(plan, *, status="active", **kw):
    user = kw.pop("user", None) or UserFactory()
    SubscriptionFactory(user=user, price=plan.prices.first(), status=status, **kw)
    return user
