"""One line per event, with what it is about: the request id and the migration id where there is one.

Both live in context variables: the request-id middleware sets the first (honouring the proxy's ``X-Request-ID``),
a migration's driver sets the second for its thread (``about``). A logging filter stamps them on every record, so
plain lines end with ``[request=… migration=…]`` and JSON lines carry them as keys. ``IVMWEB_LOG_FORMAT=json``
writes each record as one JSON object (a traceback inside it, never on lines of its own).
"""

import contextvars
import json
import logging
import re
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("ivmweb_request_id", default=None)
migration_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("ivmweb_migration_id", default=None)

# What we accept from the proxy's X-Request-ID (nginx's $request_id is 32 hex digits); anything else is replaced:
# a header must not be able to forge log structure.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


@contextmanager
def about(migration: int | None):
    """Log lines of this thread (and of what it runs in this context) name ``migration``."""
    token = migration_id.set(migration)
    try:
        yield
    finally:
        migration_id.reset(token)


class ContextFilter(logging.Filter):
    """Stamps ``request_id`` and ``migration_id`` (or None) on every record; ``context`` is their plain-text form."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = getattr(record, "request_id", None) or request_id.get()
        record.migration_id = getattr(record, "migration_id", None) or migration_id.get()
        parts = [f"request={record.request_id}"] if record.request_id else []
        if record.migration_id is not None:
            parts.append(f"migration={record.migration_id}")
        record.context = f" [{' '.join(parts)}]" if parts else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, the context ids, and the
    exception's traceback as a string when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "migration_id"):
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def logging_config(fmt: str, level: str) -> dict:
    """settings.LOGGING for ``IVMWEB_LOG_FORMAT`` (``plain`` or ``json``) at ``IVMWEB_LOG_LEVEL``."""
    formatters = {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s%(context)s"},
        "json": {"()": "mobility.observability.logs.JsonFormatter"},
    }
    handler = {"class": "logging.StreamHandler", "formatter": fmt, "filters": ["context"]}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "mobility.observability.logs.ContextFilter"}},
        "formatters": {fmt: formatters[fmt]},
        "handlers": {"console": handler},
        "loggers": {
            "mobility": {"handlers": ["console"], "level": level},
            "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        },
    }


def request_id_middleware(get_response):
    """Give each request an id (the proxy's ``X-Request-ID`` when it is a sane token, else a new one), put it in the
    log context for the request's lines, and answer it back in ``X-Request-ID``."""

    def middleware(request):
        given = request.headers.get("X-Request-ID", "")
        rid = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        token = request_id.set(rid)
        try:
            response = get_response(request)
        finally:
            request_id.reset(token)
        response["X-Request-ID"] = rid
        return response

    return middleware
