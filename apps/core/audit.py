"""Audit trail: who did what, from where. Rows are never updated or deleted."""

from collections.abc import Sequence
from typing import Any

from django.db import models

from apps.core.clients import client_ip
from apps.core.models import AuditLog


def _client_ip(request) -> str | None:
    return client_ip(request) or None


def audit_row(
    *,
    action: str,
    request=None,
    actor=None,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    data: dict[str, Any] | None = None,
) -> AuditLog:
    """Build (unsaved) one audit row; request supplies ip, user agent, user
    and session. ``audit_log`` writes one, ``audit_log_many`` several."""
    if request is not None:
        user = getattr(request, "user", None)
        if actor is None and user is not None and user.is_authenticated:
            actor = user
        session = getattr(request, "session", None)
        session_key = (session.session_key or "") if session is not None else ""
        ip_address = _client_ip(request)
        user_agent = request.headers.get("user-agent", "")[:512]
    else:
        session_key, ip_address, user_agent = "", None, ""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    return AuditLog(
        action=action,
        actor=actor if actor is not None and actor.is_authenticated else None,
        session_key=session_key,
        ip_address=ip_address,
        user_agent=user_agent,
        object_type=object_type,
        object_id=str(object_id),
        data=data or {},
    )


def audit_log(**kwargs: Any) -> AuditLog:
    """Write one audit row; see ``audit_row`` for the arguments."""
    row = audit_row(**kwargs)
    row.save(force_insert=True)
    return row


def audit_log_many(rows: Sequence[AuditLog]) -> list[AuditLog]:
    """Write several audit rows of one event in one INSERT."""
    return AuditLog.objects.bulk_create(rows)
