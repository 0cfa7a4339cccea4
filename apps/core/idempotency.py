"""`Idempotency-Key` for API POSTs that create something.

Same key + same body → the stored response is replayed (the view does not run
again); same key + different body → 422 ``idempotency_key_reused``; the same
key while the first request is still running → 409
``idempotency_request_in_progress``. Keys are scoped per user, or per cart or
checkout for anonymous clients, and kept 24 hours.
"""

import functools
import hashlib
import json
from collections.abc import Callable
from datetime import timedelta

from django.utils import timezone
from rest_framework.response import Response

from apps.core.clients import client_ip
from apps.core.exceptions import (
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    IdempotencyRequestInProgress,
)
from apps.core.inserts import insert_unless_taken
from apps.core.models import IdempotencyRecord

HEADER = "Idempotency-Key"
IDEMPOTENCY_ERRORS = (
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    IdempotencyRequestInProgress,
)
TTL = timedelta(hours=24)
# A claim older than this belongs to a worker that died (killed, timed out)
# mid-request; a retry may take it over instead of getting 409 for 24 hours.
IN_PROGRESS_LEASE = timedelta(minutes=5)


def _default_scope(request, kwargs) -> str:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    for name in ("cart_id", "checkout_id", "pk", "id"):
        if name in kwargs:
            return f"{name}:{kwargs[name]}"
    return f"anon:{client_ip(request)}"


def _request_hash(request) -> str:
    try:
        body = json.dumps(request.data, sort_keys=True, default=str)
    except TypeError:
        body = repr(request.data)
    return hashlib.sha256(
        f"{request.method} {request.path}\n{body}".encode()
    ).hexdigest()


def idempotent(
    view_method: Callable | None = None, *, scope: Callable | None = None
) -> Callable:
    """Decorate an APIView's ``post`` to honour the ``Idempotency-Key`` header."""

    def decorator(method):
        @functools.wraps(method)
        def wrapper(self, request, *args, **kwargs):
            key = request.headers.get(HEADER, "").strip()
            if not key:
                return method(self, request, *args, **kwargs)
            if len(key) > 255:
                raise IdempotencyKeyInvalid(
                    "Idempotency-Key is too long.",
                    details={"max_length": 255},
                )
            scope_value = (scope or _default_scope)(request, kwargs)
            digest = _request_hash(request)
            record = _claim(scope_value, key, request, digest)
            if record.state == IdempotencyRecord.State.DONE:
                response = Response(record.response_body, status=record.response_status)
                response["Idempotent-Replayed"] = "true"
                return response
            try:
                response = method(self, request, *args, **kwargs)
            except Exception:
                # A failed attempt is not remembered: the client may retry.
                IdempotencyRecord.objects.filter(pk=record.pk).delete()
                raise
            if response.status_code >= 500:
                IdempotencyRecord.objects.filter(pk=record.pk).delete()
                return response
            IdempotencyRecord.objects.filter(pk=record.pk).update(
                state=IdempotencyRecord.State.DONE,
                response_status=response.status_code,
                response_body=json.loads(json.dumps(response.data, default=str)),
            )
            return response

        # Read by the OpenAPI schema: the header parameter and these errors.
        wrapper.honours_idempotency_key = True  # type: ignore[attr-defined]  # a marker on a function
        wrapper.api_errors = (  # type: ignore[attr-defined]  # a marker on a function
            *getattr(method, "api_errors", ()),
            *IDEMPOTENCY_ERRORS,
        )
        return wrapper

    return decorator(view_method) if view_method is not None else decorator


def _claim(scope: str, key: str, request, digest: str) -> IdempotencyRecord:
    now = timezone.now()
    record = IdempotencyRecord(
        scope=scope,
        key=key,
        method=request.method,
        path=request.path[:512],
        request_hash=digest,
        state=IdempotencyRecord.State.IN_PROGRESS,
        created_at=now,
    )
    # One statement, no savepoint: a clash is reported, not raised, and an
    # expired holder is freed only then (below), with no DELETE up front.
    if insert_unless_taken(record, unique=("scope", "key")):
        return record
    existing = IdempotencyRecord.objects.filter(scope=scope, key=key).first()
    if existing is None:  # the first attempt failed and let go meanwhile
        return _claim(scope, key, request, digest)
    if existing.created_at < now - TTL:
        # Expired: the key is free again. Only the row read is deleted, so a
        # concurrent claim of the freed key is not undone.
        IdempotencyRecord.objects.filter(
            pk=existing.pk, created_at=existing.created_at
        ).delete()
        return _claim(scope, key, request, digest)
    if existing.request_hash != digest:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different request."
        )
    if existing.state != IdempotencyRecord.State.DONE:
        taken_over = IdempotencyRecord.objects.filter(
            pk=existing.pk,
            state=IdempotencyRecord.State.IN_PROGRESS,
            created_at__lt=now - IN_PROGRESS_LEASE,
        ).update(created_at=now)
        if taken_over:
            existing.created_at = now
            return existing
        raise IdempotencyRequestInProgress(
            "A request with this Idempotency-Key is still being processed."
        )
    return existing


def idempotency_records_purge() -> int:
    deleted, _ = IdempotencyRecord.objects.filter(
        created_at__lt=timezone.now() - TTL
    ).delete()
    return deleted
