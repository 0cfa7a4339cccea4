import os

from django.core.wsgi import get_wsgi_application

# Only gunicorn (Procfile) loads this; development uses runserver.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
application = get_wsgi_application()
