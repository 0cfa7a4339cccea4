import logging

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from apps.core.api.exception_handler import error_body

logger = logging.getLogger(__name__)


@never_cache
def healthz(request):
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_cache() -> None:
    cache.set("readyz", "1", 5)
    if cache.get("readyz") != "1":
        raise RuntimeError("cache did not return the value just written")


def _check_broker() -> None:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return  # embedded mode: tasks run in-process, there is no broker
    from config.celery import app

    # One retry at once: a probe that waits kombu's default two seconds
    # before retrying a refused connection answers late for nothing.
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)


class BeatStale(Exception):
    """Beat's heartbeat is missing or older than BEAT_HEARTBEAT_MAX_AGE."""


def _check_beat() -> None:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return  # embedded mode runs no beat
    from apps.core.heartbeat import beat_heartbeat_problem

    problem = beat_heartbeat_problem()
    if problem:
        raise BeatStale(problem)


@never_cache
def readyz(request):
    checks = {
        "database": _check_database,
        "cache": _check_cache,
        "broker": _check_broker,
        "beat": _check_beat,
    }
    failed = {}
    reasons = {}
    for name, check in checks.items():
        try:
            check()
        except Exception as exc:
            logger.warning("readiness check %s failed: %s", name, exc)
            failed[name] = type(exc).__name__
            if isinstance(exc, BeatStale):
                # Says how stale; the other checks' messages may name hosts.
                reasons[name] = str(exc)
    if failed:
        body = {"status": "unavailable", "failed": failed}
        if reasons:
            body["reasons"] = reasons
        return JsonResponse(body, status=503)
    return JsonResponse({"status": "ok", "checks": sorted(checks)})


def is_api_request(request) -> bool:
    """Return True for requests answered with the JSON error envelope."""
    return request.path.startswith("/api/") or request.path.startswith("/_allauth/")


def page_not_found(request, exception=None):
    if is_api_request(request):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    return render(request, "404.html", status=404)


def permission_denied(request, exception=None):
    if is_api_request(request):
        return JsonResponse(
            error_body("permission_denied", "You may not do that."), status=403
        )
    return render(request, "403.html", status=403)


def server_error(request):
    request_id = getattr(request, "request_id", None)
    if is_api_request(request):
        return JsonResponse(
            error_body(
                "server_error",
                "Something went wrong on our side.",
                {"request_id": request_id},
            ),
            status=500,
        )
    return render(request, "500.html", {"request_id": request_id}, status=500)


def bad_request(request, exception=None):
    if is_api_request(request):
        return JsonResponse(error_body("bad_request", "Bad request."), status=400)
    return render(request, "400.html", status=400)
