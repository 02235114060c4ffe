"""One database deadline per request (record 0023). From the moment a request arrives it has
DB_REQUEST_DEADLINE_SECONDS for all of its database work together: waiting for a connection,
connecting, and every statement. The Database's reads and the request's session (SessionDep)
keep to it, so routes write nothing; past it they raise the builtin `TimeoutError`.

A route that needs longer says so in one line (None: no deadline at all):

    @router.post("/exports", dependencies=[database_deadline(seconds=60)])
"""

import asyncio
from contextvars import ContextVar
from typing import Any

from fastapi import Depends
from starlette.types import ASGIApp, Receive, Scope, Send

# The event loop's clock (`loop.time()`) at which the current request's database work must end.
deadline: ContextVar[float | None] = ContextVar("database_deadline", default=None)


def within_deadline() -> asyncio.Timeout:
    """`async with within_deadline():` raises TimeoutError when the request's deadline passes;
    outside a request, or with no deadline, it never does."""
    return asyncio.timeout_at(deadline.get())


def database_deadline(seconds: float | None) -> Any:  # what Depends returns
    """A route's own deadline, counted from when its dependencies run."""

    async def set_deadline() -> None:
        loop_time = asyncio.get_running_loop().time()
        deadline.set(None if seconds is None else loop_time + seconds)

    return Depends(set_deadline)


class DatabaseDeadlineMiddleware:
    """Plain ASGI: starts each request's deadline, and clears it when the request ends."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = deadline.set(asyncio.get_running_loop().time() + self.seconds)
        try:
            await self.app(scope, receive, send)
        finally:
            deadline.reset(token)
