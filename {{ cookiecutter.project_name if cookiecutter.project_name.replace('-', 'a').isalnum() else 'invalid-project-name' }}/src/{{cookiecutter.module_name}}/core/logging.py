"""One logging set-up for the app, uvicorn and SQLAlchemy: JSON lines in production, readable
lines in development, the request id on every line logged while a request is served, and the
trace and span ids on every line logged while an OpenTelemetry span is active."""

import json
import logging
import logging.config
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

from opentelemetry import trace

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
{%- if cookiecutter.background_jobs == "yes" %}
# The background job being run (jobs/worker.py): on every line it logs, beside the id of the
# request that enqueued it (in `request_id`).
job_id: ContextVar[int | None] = ContextVar("job_id", default=None)
{%- endif %}

CONSOLE_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s"
# Attributes every LogRecord has; anything else was passed as `extra=` and is kept.
STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "request_id",
    "color_message",
}
# The service's own access line (api/request_id.py), one per request, with its fields as extras.
ACCESS_LOGGER = "{{ cookiecutter.module_name }}.access"


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get() or "-"
{%- if cookiecutter.background_jobs == "yes" %}
        job = job_id.get()
        if job is not None:
            record.job_id = job
{%- endif %}
        span = trace.get_current_span().get_span_context()
        if span.is_valid:  # only while tracing: no span, no fields
            record.trace_id = format(span.trace_id, "032x")
            record.span_id = format(span.span_id, "016x")
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        entry.update(
            (key, value) for key, value in vars(record).items() if key not in STANDARD_ATTRIBUTES
        )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str, log_format: Literal["json", "console"]) -> None:
    # uvicorn configures its loggers before it imports the app; `--no-access-log` (or
    # ACCESS_LOG=false through serve.py) leaves the access logger without handlers or propagation.
    # The service writes its own access line (with route, status and duration as fields) in
    # place of uvicorn's, and only when uvicorn was told to write one.
    access = logging.getLogger("uvicorn.access")
    access_log_off = not access.handlers and not access.propagate
    formatter: dict[str, Any] = (
        {"()": JsonFormatter} if log_format == "json" else {"format": CONSOLE_FORMAT}
    )
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "default",
        "filters": ["request_id"],
        "stream": "ext://sys.stderr",
    }
    # uvicorn's and SQLAlchemy's loggers hand their records to the root handler.
    inherit = {"handlers": [], "propagate": True}
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "filters": {"request_id": {"()": RequestIdFilter}},
            "formatters": {"default": formatter},
            "handlers": {"default": handler},
            "root": {"level": level, "handlers": ["default"]},
            "loggers": {
                "uvicorn": inherit,
                "uvicorn.error": inherit,
                # The service writes its own access line: uvicorn's (INFO) is dropped. Only an
                # access log that was off stays without propagation, so that a second call (a
                # second app in one process) reads the same answer.
                "uvicorn.access": {
                    "handlers": [],
                    "propagate": not access_log_off,
                    "level": "WARNING",
                },
                ACCESS_LOGGER: {**inherit, "level": "WARNING" if access_log_off else "NOTSET"},
                "sqlalchemy.engine": {**inherit, "level": "WARNING"},
                # Read at start-up for the head /readyz expects: its plugin set-up is not news.
                "alembic": {**inherit, "level": "WARNING"},
            },
        }
    )
