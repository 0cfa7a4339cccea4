"""Gate parts of a page on the signed-in user's plan.

{% load entitlements %}
{% has_feature "api_access" as can_use_api %}
{% if can_use_api %}…{% else %}{% upgrade_plan_for "api_access" as plan %}…{% endif %}
"""

from typing import Any

from django import template

from apps.subscriptions.entitlements import entitlements_for, plan_with_feature

register = template.Library()


@register.simple_tag(takes_context=True)
def has_feature(context: dict[str, Any], feature: str) -> bool:
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    return entitlements_for(user).has_feature(feature)


@register.simple_tag
def upgrade_plan_for(feature: str) -> dict[str, str] | None:
    """A plan that has the feature, to link to from a locked part of a page."""
    return plan_with_feature(feature)
