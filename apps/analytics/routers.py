"""Send analytics reads to a read replica when ``DATABASE_REPLICA_URL`` is set.

Only reads of analytics' own tables move (the dashboard and the API); the
nightly job writes with INSERT … SELECT on the primary, where it must read
what it replaces.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

REPLICA = "replica"


class AnalyticsReplicaRouter:
    def db_for_read(self, model: type, **hints: Any) -> str | None:
        if REPLICA in settings.DATABASES and model._meta.app_label == "analytics":  # type: ignore[attr-defined]  # a model class
            return REPLICA
        return None

    def db_for_write(self, model: type, **hints: Any) -> str | None:
        return None

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        return None

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        # The replica follows the primary; nothing migrates it directly.
        return False if db == REPLICA else None
