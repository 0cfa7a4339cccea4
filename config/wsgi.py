import os

from django.core.wsgi import get_wsgi_application

# gunicorn loads this: Procfile (production) and Procfile.dev (`make run`,
# which sets DJANGO_SETTINGS_MODULE to local settings itself).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
application = get_wsgi_application()
