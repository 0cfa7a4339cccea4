"""Plan errors, each with a stable code for API clients."""

from apps.core.exceptions import NotFound, ValidationFailed


class PlanNotFound(NotFound):
    default_code = "plan_not_found"

    def __init__(self, slug: str):
        super().__init__(f"No plan {slug!r}.")


class UnknownPlans(ValidationFailed):
    default_code = "unknown_plan"

    def __init__(self, slugs: list[str]):
        super().__init__(
            "Unknown plan(s): " + ", ".join(slugs), details={"plans": slugs}
        )
