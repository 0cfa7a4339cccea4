"""Writes for dunning: cases (cases.py), the beat runner (runner.py) and the
steps it runs (steps.py)."""

from apps.dunning.services.cases import (
    case_open,
    case_pause,
    case_payment_check,
    case_recover,
    case_recover_for_invoice,
    case_resume,
    case_retry_now,
    case_write_off,
)
from apps.dunning.services.policy import policy_default
from apps.dunning.services.runner import actions_reap, actions_run_due

__all__ = [
    "actions_reap",
    "actions_run_due",
    "case_open",
    "case_pause",
    "case_payment_check",
    "case_recover",
    "case_recover_for_invoice",
    "case_resume",
    "case_retry_now",
    "case_write_off",
    "policy_default",
]
