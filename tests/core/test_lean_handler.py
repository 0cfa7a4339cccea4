"""config/wsgi.py's choice between the lean and the full handler."""

from django.conf import settings

from apps.core.lean_handler import LeanWSGIHandler, PathPrefixDispatch


def _app(name):
    def app(environ, start_response):
        return [name.encode()]

    return app


def test_paths_under_the_prefixes_go_to_the_lean_handler():
    app = PathPrefixDispatch(_app("lean"), _app("full"), ("/api/v1/usage/",))

    def served(path):
        return app({"PATH_INFO": path}, None)[0].decode()

    assert served("/api/v1/usage/") == "lean"
    assert served("/api/v1/usage/batch/") == "lean"
    assert served("/api/v1/usage") == "full"
    assert served("/api/v1/usagex/") == "full"
    assert served("/api/v1/me/") == "full"
    assert served("/") == "full"
    assert app({}, None) == [b"full"]


def test_gunicorn_application_serves_usage_lean():
    from config.wsgi import application

    assert isinstance(application, PathPrefixDispatch)
    assert isinstance(application.lean, LeanWSGIHandler)
    assert application.prefixes == settings.LEAN_API_PREFIXES == ("/api/v1/usage/",)
