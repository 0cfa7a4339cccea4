"""Celery adapters for dunning (beat runs ``dunning.run_due_actions``)."""

from celery import shared_task

from apps.dunning import services


@shared_task(name="dunning.run_due_actions", acks_late=True)
def run_due_actions() -> int:
    # Claims with a lease: a second run at the same time takes other rows.
    return services.actions_run_due()
