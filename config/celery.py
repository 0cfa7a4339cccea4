import os

from celery import Celery
from celery.signals import before_task_publish, task_postrun, task_prerun

# Imported by config/__init__ before wsgi.py runs: a deploy must not fall back
# to development settings. manage.py and `make run` choose local explicitly.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

app = Celery("shop")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# The request id travels in the task headers, so a task's log lines can be
# matched to the web request that queued it.
@before_task_publish.connect
def _attach_request_id(headers=None, **_kwargs):
    from apps.core.logging import get_request_id

    request_id = get_request_id()
    if headers is not None and request_id:
        headers["request_id"] = request_id


@task_prerun.connect
def _restore_request_id(task=None, **_kwargs):
    from apps.core.logging import set_request_id

    request_id = getattr(task.request, "request_id", None) if task else None
    set_request_id(request_id or (task.request.id if task else None))


@task_postrun.connect
def _clear_request_id(**_kwargs):
    from apps.core.logging import set_request_id

    set_request_id(None)
