from apps.core.exceptions import NotFound, ValidationFailed


class PlanNotFound(NotFound):
    def __init__(self, slug: str):
        super().__init__(f"No plan {slug!r}.", code="plan_not_found")


class UnknownPlans(ValidationFailed):
    def __init__(self, slugs: list[str]):
        super().__init__(
            "Unknown plan(s): " + ", ".join(slugs),
            code="unknown_plan",
            details={"plans": slugs},
        )
