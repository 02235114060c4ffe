"""uvicorn's httptools protocol with the request-head limits it lacks (record 0025).

uvicorn 0.54 bounds neither the size of a request head nor the time a client takes to send one:
a 64 MiB header is parsed (at a cost that grows with its square) and a client that connects and
sends nothing holds its socket forever. This subclass adds both, and a drain that does not cut a
connection whose request has not arrived yet. It is passed to uvicorn as `Config(http=...)`, the
documented way to choose a protocol class, and it only extends the parser callbacks httptools
defines (`on_message_begin`, `on_headers_complete`) and the asyncio `Protocol` methods, each
calling uvicorn's own first. This module is the only place the server's internals are touched.
"""

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

logger = logging.getLogger(__name__)

HEAD_END = b"\r\n\r\n"
# After a 431 the rest of what the client sends is read and dropped for this long before the
# socket is closed: closing with unread bytes would reset the connection, and the client could
# lose the answer.
LINGER_SECONDS = 1.0


@dataclass(frozen=True)
class HeadLimits:
    max_bytes: int
    timeout_seconds: float


def error_answer(status: int, reason: str, code: str, message: str) -> bytes:
    """A complete HTTP/1.1 response in the app's error shape, sent before the app is involved."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """One instance per connection, as uvicorn's own."""

    limits = HeadLimits(max_bytes=64 * 1024, timeout_seconds=10.0)

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.head_pending = True  # bytes of a request head are expected, or arriving
        self.head_bytes = 0
        self.head_timer: asyncio.TimerHandle | None = None
        self.served_any = False
        self.draining = False
        self.refused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self.start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self.stop_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return
        if self.head_pending:
            end = data.find(HEAD_END)
            self.head_bytes += len(data) if end < 0 else end + len(HEAD_END)
            if self.head_bytes > self.limits.max_bytes:
                self.refuse_head()
                return
        super().data_received(data)
        # The first bytes of the next request on a kept-alive connection: uvicorn cancelled its
        # keep-alive timer, so the head timer bounds this head as it bounds the first one.
        if self.head_pending and self.head_timer is None and not self.transport.is_closing():
            self.start_head_timer()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.head_pending = True  # a pipelined request's head counts from its next chunk

    def on_headers_complete(self) -> None:
        self.head_pending = False
        self.head_bytes = 0
        self.served_any = True
        self.stop_head_timer()
        super().on_headers_complete()
        if self.draining and self.cycle is not None:
            self.cycle.keep_alive = False  # answered with `connection: close`, then closed

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self.head_pending = not self.transport.is_closing()

    def shutdown(self) -> None:
        """The server drains: a connection that has not sent its (first) request yet is kept
        until it does, within the head timeout, instead of being closed unanswered; uvicorn
        closes an idle kept-alive connection and lets a request in progress finish."""
        self.draining = True
        idle = self.cycle is None or self.cycle.response_complete
        if idle and self.head_pending and (self.head_bytes or not self.served_any):
            return
        super().shutdown()

    def start_head_timer(self) -> None:
        self.stop_head_timer()
        self.head_timer = self.loop.call_later(self.limits.timeout_seconds, self.head_timed_out)

    def stop_head_timer(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def head_timed_out(self) -> None:
        self.head_timer = None
        if not self.head_pending or self.transport.is_closing():
            return
        if self.head_bytes or not self.served_any:
            logger.info(
                "closed a connection that sent no complete request head within %s s",
                self.limits.timeout_seconds,
                extra={"client": self.client_text, "head_bytes": self.head_bytes},
            )
        self.transport.close()

    def refuse_head(self) -> None:
        logger.warning(
            "refused a request head over %s bytes",
            self.limits.max_bytes,
            extra={"client": self.client_text},
        )
        message = f"The request head is larger than {self.limits.max_bytes} bytes."
        answer = error_answer(
            431, "Request Header Fields Too Large", "request_header_fields_too_large", message
        )
        self.head_pending = False
        self.refused = True
        self.stop_head_timer()
        self.transport.write(answer)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)

    @property
    def client_text(self) -> str | None:
        return f"{self.client[0]}:{self.client[1]}" if self.client else None


def bounded_protocol(limits: HeadLimits) -> type[BoundedHttpToolsProtocol]:
    """The protocol class for `uvicorn.Config(http=...)`, with these limits."""
    return type("HttpProtocol", (BoundedHttpToolsProtocol,), {"limits": limits})
