"""config/wsgi.py's choice between the lean and the full handler."""

from django.conf import settings

from apps.core.lean_handler import by_path_prefix


def _app(name):
    def app(environ, start_response):
        return [name.encode()]

    return app


def test_paths_under_the_prefixes_go_to_the_lean_handler():
    app = by_path_prefix(_app("lean"), _app("full"), ("/api/v1/usage/",))

    def served(path):
        return app({"PATH_INFO": path}, None)[0].decode()

    assert served("/api/v1/usage/") == "lean"
    assert served("/api/v1/usage/batch/") == "lean"
    assert served("/api/v1/usage") == "full"
    assert served("/api/v1/usagex/") == "full"
    assert served("/api/v1/me/") == "full"
    assert served("/") == "full"
    assert app({}, None) == [b"full"]


def test_only_usage_is_served_lean():
    assert settings.LEAN_API_PREFIXES == ("/api/v1/usage/",)
