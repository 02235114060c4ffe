"""A limit on request bodies: 413 in the one error shape, before a large body is read whole."""

from fastapi import status
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from {{ cookiecutter.module_name }}.api.errors import CODES, error_response

TOO_LARGE = status.HTTP_413_CONTENT_TOO_LARGE


class BodyLimitMiddleware:
    """Plain ASGI: it counts the body as it streams in instead of buffering it first.

    A declared Content-Length over the limit is refused before the app runs. A streamed body
    (chunked, or lying about its length) is cut off at the chunk that crosses the limit: reading
    it raises an HTTPException, which the app's error handlers turn into the error shape.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), b"")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            response = error_response(TOO_LARGE, CODES[TOO_LARGE], self.message)
            await response(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise HTTPException(TOO_LARGE, detail=self.message)
            return message

        await self.app(scope, counting_receive, send)

    @property
    def message(self) -> str:
        return f"The request body is larger than {self.max_body_bytes} bytes."
