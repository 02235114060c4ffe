"""A limit on requests in progress: beyond it, 503 in the error shape with Retry-After.

It counts requests, not connections (uvicorn's `limit_concurrency` counts idle kept-alive
connections too, and answers in plain text). The probes are never refused: a busy process is
alive and, for the orchestrator, still ready; turning traffic away is this limit's job.
"""

from fastapi import status
from starlette.types import ASGIApp, Receive, Scope, Send

from {{ cookiecutter.module_name }}.api.errors import error_response

BUSY = status.HTTP_503_SERVICE_UNAVAILABLE
RETRY_AFTER_SECONDS = 1
EXEMPT_PATHS = frozenset({"/healthz", "/readyz"})


class ConcurrencyLimitMiddleware:
    """Plain ASGI, one counter per app: the event loop runs one request's code at a time, so a
    plain integer is exact without a lock."""

    def __init__(self, app: ASGIApp, max_requests: int) -> None:
        self.app = app
        self.max_requests = max_requests
        self.in_progress = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        if self.in_progress >= self.max_requests:
            response = error_response(
                BUSY,
                "server_busy",
                f"More than {self.max_requests} requests are in progress; try again shortly.",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
            await response(scope, receive, send)
            return
        self.in_progress += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_progress -= 1
