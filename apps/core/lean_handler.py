"""A second request handler for the usage ingest, with a shorter middleware list.

Usage ingest (POST /api/v1/usage/, issue 14) is the API's hottest path, and
half of settings.MIDDLEWARE is for pages: static files, flash messages, the
CSRF cookie, allauth's account redirects, the header's cart count, allauth's
headless rate-limit answers. For a JSON call authenticated by a Bearer token
or by the session (DRF's SessionAuthentication checks CSRF itself) none of
them changes the answer, yet every one runs on every event.

Only the middlewares named in settings.LEAN_API_SKIPPED_MIDDLEWARE are left
out; everything else in settings.MIDDLEWARE runs in the same order, so a
middleware added later is in both stacks unless someone decides otherwise.
"""

from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def lean_middleware() -> list[str]:
    skipped = set(settings.LEAN_API_SKIPPED_MIDDLEWARE)
    unknown = skipped - set(settings.MIDDLEWARE)
    if unknown:
        # A renamed middleware would otherwise silently stay in the lean stack
        # while the setting claims it is out: fail at start-up instead.
        raise ValueError(f"LEAN_API_SKIPPED_MIDDLEWARE not in MIDDLEWARE: {unknown}")
    return [m for m in settings.MIDDLEWARE if m not in skipped]


class LeanMiddlewareMixin:
    """load_middleware() over lean_middleware() instead of settings.MIDDLEWARE.

    Django's BaseHandler.load_middleware reads settings.MIDDLEWARE and has no
    parameter for another list; swapping the setting while it builds the
    chain reuses it whole (adapters, process_view/exception hooks) instead of
    copying it. It runs once, when the handler is built at start-up.
    """

    def load_middleware(self, is_async: bool = False) -> None:
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = lean_middleware()
        try:
            super().load_middleware(is_async)  # type: ignore[misc]
        finally:
            settings.MIDDLEWARE = full


class LeanWSGIHandler(LeanMiddlewareMixin, WSGIHandler):
    pass


class PathPrefixDispatch:
    """The WSGI application: `lean` for paths under `prefixes`, else `full`.

    PATH_INFO is compared as the server passes it (undecoded): a path that
    only matches once decoded, or that is spelled differently, goes to the
    full stack, which answers it as before.
    """

    def __init__(self, lean: WSGIApp, full: WSGIApp, prefixes: tuple[str, ...]):
        self.lean, self.full, self.prefixes = lean, full, prefixes

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]):
        if environ.get("PATH_INFO", "").startswith(self.prefixes):
            return self.lean(environ, start_response)
        return self.full(environ, start_response)
