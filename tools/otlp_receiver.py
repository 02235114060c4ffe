"""A small OTLP/HTTP receiver: it accepts protobuf exports on /v1/traces, /v1/metrics and
/v1/logs, decodes them with the official `opentelemetry-proto` messages, and keeps them."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

MESSAGES = {
    "/v1/traces": ExportTraceServiceRequest,
    "/v1/metrics": ExportMetricsServiceRequest,
    "/v1/logs": ExportLogsServiceRequest,
}


class Receiver:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.exports: list[tuple[str, Any]] = []
        self.port = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def record(self, path: str, body: bytes) -> None:
        message = MESSAGES[path]()
        message.ParseFromString(body)
        with self.lock:
            self.exports.append((path, message))

    def received(self, path: str) -> list[Any]:
        with self.lock:
            return [message for kind, message in self.exports if kind == path]

    def spans(self) -> list[Any]:
        return [
            span
            for export in self.received("/v1/traces")
            for resource in export.resource_spans
            for scope in resource.scope_spans
            for span in scope.spans
        ]

    def resources(self) -> list[dict[str, Any]]:
        return [
            attributes(resource.resource.attributes)
            for export in self.received("/v1/traces")
            for resource in export.resource_spans
        ]

    def metrics(self) -> list[Any]:
        return [
            metric
            for export in self.received("/v1/metrics")
            for resource in export.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
        ]

    def wait_for(self, what: str, found: Callable[[], Any], seconds: float = 20.0) -> Any:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            result = found()
            if result:
                return result
            time.sleep(0.1)
        raise AssertionError(f"no {what} received within {seconds:g} s: {self.exports!r:.2000}")


def value(any_value: AnyValue) -> Any:
    kind = any_value.WhichOneof("value")
    if kind == "array_value":
        return [value(item) for item in any_value.array_value.values]
    return getattr(any_value, kind) if kind else None


def attributes(pairs: Any) -> dict[str, Any]:
    return {pair.key: value(pair.value) for pair in pairs}


@contextmanager
def otlp_receiver(port: int = 0) -> Iterator[Receiver]:
    """Serve on loopback (port 0: any free one) in a thread until the block ends."""
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            if self.path not in MESSAGES:
                self.send_response(404)
                self.end_headers()
                return
            receiver.record(self.path, body)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
