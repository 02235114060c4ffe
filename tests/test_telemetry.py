"""Telemetry tier: the baked service, run as `uvicorn <module>.main:app` and as the production
serve command, exports real OTLP/HTTP payloads to a receiver in the test when the standard OTEL_*
variables say so, and sends nothing otherwise. Once per variant of the example and auth, both
commands."""

from __future__ import annotations

import fcntl
import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

from tests.bake import Baked, combination_params, free_port, named_once_per
from tests.dev_tokens import dev_key_env, dev_token, has_auth
from tests.processes import stop, wait_until_answers
from tools.database import throwaway_database
from tools.otlp_receiver import Receiver, attributes, otlp_receiver

# What the spans hold changes with the example (database spans) and auth (the caller).
pytestmark = pytest.mark.parametrize(
    "baked", combination_params(named_once_per("include_example", "auth")), indirect=True
)
COMMANDS = ("uvicorn", "serve")
# A caller's W3C trace context: the service's server span must continue this trace.
CALLER_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{CALLER_TRACE_ID}-{CALLER_SPAN_ID}-01"
# An id no statement text contains: it may reach a span only as a bound parameter value.
ITEM_ID = "424242"
SERVER_KIND = 2  # opentelemetry.proto.trace.v1.Span.SPAN_KIND_SERVER
CLIENT_KIND = 3
DEFAULT_OTLP_HTTP_PORT = 4318  # where an SDK sends when no endpoint is set


def module_of(baked: Baked) -> str:
    return next(p.name for p in (baked.path / "src").iterdir() if p.is_dir())


@dataclass
class Service:
    base: str
    log: Path
    process: subprocess.Popen[bytes]

    def get(self, path: str, **headers: str) -> int:
        request = urllib.request.Request(self.base + path, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
                return int(answer.status)
        except urllib.error.HTTPError as error:
            return int(error.code)

    def stop(self) -> list[dict]:
        """SIGTERM (the providers flush on shutdown), then the JSON lines it wrote."""
        stop(self.process)
        lines = []
        for line in self.log.read_text().splitlines():
            try:
                lines.append(json.loads(line))
            except json.JSONDecodeError:
                pytest.fail(f"a log line that is not JSON: {line!r}\n{self.log.read_text()}")
        return lines


@pytest.fixture
def migrated(baked: Baked) -> Iterator[dict[str, str]]:
    """The baked project's environment without any OTEL_* variable, on a migrated database."""
    with throwaway_database() as url:
        env = {k: v for k, v in baked.env.items() if not k.startswith("OTEL_")}
        env.update({"DATABASE_URL": url, "LOG_FORMAT": "json", **dev_key_env(baked)})
        result = Baked(baked.path, baked.context, env).uv(
            "run", "--locked", "alembic", "upgrade", "head"
        )
        assert result.returncode == 0, result.stderr
        yield env


@contextmanager
def service(baked: Baked, env: dict[str, str], command: str, log: Path) -> Iterator[Service]:
    port = free_port()
    venv = baked.path / ".venv" / "bin"
    argv = (
        [str(venv / "uvicorn"), f"{module_of(baked)}.main:app", "--port", str(port)]
        if command == "uvicorn"
        else [str(venv / "python"), "-m", f"{module_of(baked)}.serve"]
    )
    with log.open("wb") as sink:
        process = subprocess.Popen(
            argv,
            cwd=baked.path,
            env={**env, "PORT": str(port)},
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    running = Service(f"http://127.0.0.1:{port}", log, process)
    try:
        wait_until_answers(f"{running.base}/healthz", process, log, seconds=30)
        yield running
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def otlp_receiver_locked(lock: IO[str], port: int) -> Iterator[Receiver]:
    """A receiver; on a fixed port, held by one xdist worker at a time."""
    if port:
        fcntl.flock(lock, fcntl.LOCK_EX)
    with otlp_receiver(port) as receiver:
        yield receiver


def exporting(env: dict[str, str], receiver: Receiver) -> dict[str, str]:
    return {
        **env,
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_SERVICE_NAME": "telemetry-check",
        # Short batch and export intervals, so the test waits a second, not a minute.
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_METRIC_EXPORT_INTERVAL": "500",
    }


@pytest.mark.parametrize("command", COMMANDS)
def test_traces_and_metrics_reach_an_otlp_receiver(
    baked: Baked, migrated: dict[str, str], command: str, tmp_path: Path
) -> None:
    example = baked.context["include_example"] == "yes"
    # Made first: the two requests below follow each other, as the pool's ping strategy expects.
    token = dev_token(baked, migrated, "items:read") if has_auth(baked) else ""
    with (
        otlp_receiver() as receiver,
        service(baked, exporting(migrated, receiver), command, tmp_path / "log") as running,
    ):
        ready = running.get("/readyz", traceparent=TRACEPARENT, **{"X-Request-ID": "otel-1"})
        assert ready == 200
        if example:
            bearer = {"Authorization": f"Bearer {token}"} if token else {}
            assert running.get(f"/items/{ITEM_ID}", **{"X-Request-ID": "otel-2"}, **bearer) == 404

        def server_span(route: str) -> object:
            return next(
                (s for s in receiver.spans() if s.kind == SERVER_KIND and s.name == route), None
            )

        readyz = receiver.wait_for("GET /readyz server span", lambda: server_span("GET /readyz"))
        assert readyz.trace_id.hex() == CALLER_TRACE_ID
        assert readyz.parent_span_id.hex() == CALLER_SPAN_ID
        readyz_attributes = attributes(readyz.attributes)
        assert readyz_attributes["http.route"] == "/readyz"
        assert readyz_attributes["http.response.status_code"] == 200
        assert readyz_attributes["http.response.header.x-request-id"] == ["otel-1"]

        def database_spans() -> list:
            return [s for s in receiver.spans() if s.kind == CLIENT_KIND]

        receiver.wait_for("PostgreSQL span", database_spans)
        in_trace = [s for s in database_spans() if s.trace_id == readyz.trace_id]
        assert in_trace, f"no PostgreSQL span in the request's trace: {database_spans()}"
        statements = [attributes(span.attributes) for span in in_trace]
        assert all(
            "postgresql" in (s.get("db.system"), s.get("db.system.name")) for s in statements
        )
        assert any("alembic_version" in str(s) for s in statements), statements
        assert {"service.name": "telemetry-check"}.items() <= receiver.resources()[0].items()

        if example:
            item = receiver.wait_for(
                "GET /items/{item_id} server span", lambda: server_span("GET /items/{item_id}")
            )
            item_statements = receiver.wait_for(
                "the item read's PostgreSQL span",
                lambda: [s for s in database_spans() if s.trace_id == item.trace_id],
            )
            if token:  # the caller, never the token (baked record 0028)
                item_attributes = attributes(item.attributes)
                assert item_attributes["user.id"] == "dev-user"
                assert token not in str(item_attributes)
            for span in item_statements:
                recorded = attributes(span.attributes)
                assert "items" in str(recorded), recorded
                assert ITEM_ID not in f"{span.name} {recorded}", "a bound parameter value leaked"

        def duration_metric() -> list:
            return [
                attributes(point.attributes)
                for metric in receiver.metrics()
                if metric.name == "http.server.request.duration"
                for point in metric.histogram.data_points
            ]

        # Cumulative: an export from before the /readyz request has only the start-up probes.
        readyz_points = receiver.wait_for(
            "http.server.request.duration of /readyz",
            lambda: [point for point in duration_metric() if point.get("http.route") == "/readyz"],
        )
        assert readyz_points[0]["http.response.status_code"] == 200
        pool = receiver.wait_for(
            "pool metric",
            lambda: [m for m in receiver.metrics() if m.name == "db.client.connection.count"],
        )
        states = {
            attributes(point.attributes)["db.client.connection.state"]
            for point in pool[-1].sum.data_points
        }
        assert states == {"used", "idle"}
        pending = receiver.wait_for(
            "pending-requests metric",
            lambda: [
                m for m in receiver.metrics() if m.name == "db.client.connection.pending_requests"
            ],
        )
        assert [point.as_int for point in pending[-1].sum.data_points] == [0]
        lines = running.stop()

    readyz_lines = [line for line in lines if line.get("request_id") == "otel-1"]
    assert readyz_lines, lines
    assert all(line.get("trace_id") == CALLER_TRACE_ID for line in readyz_lines), readyz_lines
    [access] = [line for line in readyz_lines if line.get("route") == "/readyz"]
    assert access["status"] == 200
    assert access["method"] == "GET"
    assert access["duration_ms"] > 0


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("setting", ["nothing set", "OTEL_SDK_DISABLED=true"])
def test_nothing_is_sent_unless_the_variables_say_so(
    baked: Baked,
    migrated: dict[str, str],
    command: str,
    setting: str,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # With nothing set, an SDK would send to localhost:4318: listen there (one xdist worker at
    # a time). With the SDK disabled, the endpoint names the receiver, which must get nothing.
    port = DEFAULT_OTLP_HTTP_PORT if setting == "nothing set" else 0
    lock_file = tmp_path_factory.getbasetemp().parent / "otlp-default-port.lock"
    with lock_file.open("w") as lock, otlp_receiver_locked(lock, port) as receiver:
        env = (
            migrated
            if setting == "nothing set"
            else {**exporting(migrated, receiver), "OTEL_SDK_DISABLED": "true"}
        )
        with service(baked, env, command, tmp_path / "log") as running:
            assert running.get("/readyz", traceparent=TRACEPARENT) == 200
            time.sleep(1.5)  # three times the export interval the exporting test uses
            lines = running.stop()
        assert receiver.exports == []
    assert not [line for line in lines if "trace_id" in line], lines
    assert [line for line in lines if line.get("route") == "/readyz"], lines


def test_the_postgresql_spans_can_be_turned_off_the_standard_way(
    baked: Baked, migrated: dict[str, str], tmp_path: Path
) -> None:
    with otlp_receiver() as receiver:
        env = {**exporting(migrated, receiver), "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "asyncpg"}
        with service(baked, env, "serve", tmp_path / "log") as running:
            assert running.get("/readyz", traceparent=TRACEPARENT) == 200
            receiver.wait_for(
                "GET /readyz server span",
                lambda: [s for s in receiver.spans() if s.name == "GET /readyz"],
            )
            running.stop()  # flushes whatever else was queued
        assert [s.name for s in receiver.spans() if s.kind == CLIENT_KIND] == []
