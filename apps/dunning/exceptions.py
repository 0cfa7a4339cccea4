"""Dunning's error codes."""

from apps.core.exceptions import Conflict


class CaseNotOpen(Conflict):
    """The case is closed: nothing may be retried, paused or written off."""

    default_code = "dunning_case_not_open"
