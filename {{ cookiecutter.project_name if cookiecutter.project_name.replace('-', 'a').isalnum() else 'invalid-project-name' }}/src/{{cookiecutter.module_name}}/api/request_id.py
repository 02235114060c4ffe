"""Request ids: honour a well-formed incoming X-Request-ID, else make one; echo it back.

The same middleware writes the request's access line and turns an unhandled error into the 500
of the error shape. It is the app's outermost middleware, inside only Starlette's own error
layer; doing both here keeps the id on the 500, on its one logged traceback and on its access
line (record 0013).
"""

import asyncio
import logging
import os
import re
import time

from fastapi import Request
from opentelemetry import trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from {{ cookiecutter.module_name }}.api.errors import error_response, unhandled_error
from {{ cookiecutter.module_name }}.core.logging import ACCESS_LOGGER, request_id

HEADER = b"x-request-id"
# Ids from clients end up in logs: letters, digits and a few separators, at most 128 of them.
VALID_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
# The semantic-conventions name for a response header recorded on a span.
SPAN_ATTRIBUTE = "http.response.header.x-request-id"

access_logger = logging.getLogger(ACCESS_LOGGER)


class RequestIdMiddleware:
    """Plain ASGI (no BaseHTTPMiddleware): it costs a header lookup, not a task per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming = next((v for k, v in scope["headers"] if k == HEADER), b"")
        # 128 random bits as hex: as unique as a uuid4, at a quarter of its cost per request.
        value = incoming if VALID_ID.fullmatch(incoming) else os.urandom(16).hex().encode()
        token = request_id.set(value.decode())
        span = trace.get_current_span()
        if span.is_recording():
            span.set_attribute(SPAN_ATTRIBUTE, (value.decode(),))
        status = 0
        cancelled = False
{%- if cookiecutter.auth == "oidc" %}
        # request.state: where authentication leaves the principal for the access line.
        scope.setdefault("state", {})
{%- endif %}

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (HEADER, value)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            if status:  # the response has begun: too late for a 500, let the server close it
                raise
            response = await unhandled_error(Request(scope), exc)  # logs the one traceback
            await response(scope, receive, send_with_id)
        except asyncio.CancelledError:
            # The server cancels what still runs at SHUTDOWN_GRACE_SECONDS (record 0025): the
            # client gets a 503 it can retry rather than uvicorn's plain-text 500.
            cancelled = True
            if status:
                raise
            await shutting_down(scope, receive, send_with_id)
        finally:
            if access_logger.isEnabledFor(logging.INFO):
                log_access(scope, status, time.perf_counter() - started, cancelled=cancelled)
            request_id.reset(token)


async def shutting_down(scope: Scope, receive: Receive, send: Send) -> None:
    response = error_response(
        503,
        "shutting_down",
        "The server stopped before the request finished; try again.",
        headers={"Retry-After": "1"},
    )
    await response(scope, receive, send)


def log_access(scope: Scope, status: int, seconds: float, *, cancelled: bool = False) -> None:
    """One line per request, its fields as `extra` (JSON mode writes each as a key); a request
    the server cancelled at its grace limit says so."""
    route = getattr(scope.get("route"), "path", None)
    client = scope.get("client")
{%- if cookiecutter.auth == "oidc" %}
    # Who called (auth/dependencies.py), never the token.
    principal = scope.get("state", {}).get("principal")
{%- endif %}
    duration_ms = round(seconds * 1000, 2)
    access_logger.info(
        "%s %s %s %.2f ms",
        scope["method"],
        scope["path"],
        status,
        duration_ms,
        extra={
            "method": scope["method"],
            "route": route,
            "path": scope["path"],
            "status": status,
            "duration_ms": duration_ms,
            "client": f"{client[0]}:{client[1]}" if client else None,
{%- if cookiecutter.auth == "oidc" %}
            "subject": getattr(principal, "subject", None),
            "client_id": getattr(principal, "client_id", None),
{%- endif %}
            **({"cancelled": True} if cancelled else {}),
        },
    )
