from celery import shared_task

from apps.analytics.services.jobs import nightly_run
from apps.analytics.services.weekly import weekly_summary_send


@shared_task(name="analytics.nightly_run", acks_late=True)
def analytics_nightly_run() -> int:
    return nightly_run()


@shared_task(name="analytics.weekly_summary", acks_late=True)
def analytics_weekly_summary() -> int:
    return weekly_summary_send()
