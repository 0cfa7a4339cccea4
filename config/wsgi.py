import gc
import os

from django.core.wsgi import get_wsgi_application

# gunicorn loads this: Procfile (production) and Procfile.dev (`make run`,
# which sets DJANGO_SETTINGS_MODULE to local settings itself).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
full_application = get_wsgi_application()  # sets Django up: import after it

from django.conf import settings  # noqa: E402

from apps.core.lean_handler import LeanWSGIHandler, PathPrefixDispatch  # noqa: E402

# Usage ingest skips the page-only middlewares (apps.core.lean_handler).
application = PathPrefixDispatch(
    LeanWSGIHandler(), full_application, settings.LEAN_API_PREFIXES
)

# Everything loaded so far (Django, the apps, their modules) lives as long as
# the process: moved out of the collector's generations, it is no longer
# scanned by every full collection. A quarter of a usage-ingest request's CPU
# went to those scans (issue 14's benchmark).
gc.collect()
gc.freeze()
