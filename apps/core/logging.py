"""Request ids for log lines, carried from the web request into Celery tasks."""

import contextvars
import logging

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)


def get_request_id() -> str | None:
    return _request_id.get()


def set_request_id(value: str | None) -> None:
    _request_id.set(value)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get() or "-"
        return True


def clear_request_id(**_kwargs: object) -> None:
    """Forget the request id once the response is sent (request_finished)."""
    _request_id.set(None)
