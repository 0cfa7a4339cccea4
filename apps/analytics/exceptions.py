from apps.core.exceptions import NotFound, PermissionDenied


class StaffOnly(PermissionDenied):
    """Analytics is for staff; DRF's IsAdminUser answers with this code."""

    default_code = "permission_denied"


class AnalyticsPlanNotFound(NotFound):
    default_code = "plan_not_found"
