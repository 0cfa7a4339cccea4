"""Gate an endpoint on a plan feature: ``permission_classes = [HasFeature("x")]``.

DRF instantiates each entry of ``permission_classes``; an instance of this
class returns itself when called, so it can be configured in the list.
Without a signed-in user DRF answers 401 as usual; signed in without the
feature, 403 ``feature_not_in_plan`` naming the feature and a plan with it.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission

from apps.subscriptions.entitlements import entitlements_for, plan_with_feature
from apps.subscriptions.exceptions import FeatureNotInPlan


class HasFeature(BasePermission):
    def __init__(self, feature: str):
        self.feature = feature

    def __call__(self) -> HasFeature:
        return self

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if entitlements_for(user).has_feature(self.feature):
            return True
        raise FeatureNotInPlan(self.feature, plan_with_feature(self.feature))
