"""Telemetry tier: background jobs. The API (`<module>.serve`) and the worker
(`python -m <module>.worker`) export to one OTLP receiver in the test: the job's span continues
the trace of the request that enqueued it, the worker exports the job metrics, and the job's
log lines carry its id, the enqueuing request's id and that trace's id."""

from __future__ import annotations

import json
import signal
import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.bake import Baked, combination_params, free_port
from tests.dev_tokens import dev_token, has_auth
from tests.matrix import named_where
from tests.processes import stop, wait_until_answers
from tests.test_telemetry import (
    CALLER_TRACE_ID,
    SERVER_KIND,
    TRACEPARENT,
    exporting,
    migrated,  # noqa: F401 - a fixture, used by name
    module_of,
    service,
)
from tools.otlp_receiver import attributes, otlp_receiver

pytestmark = pytest.mark.parametrize(
    "baked",
    combination_params(named_where(include_example="yes", background_jobs="yes")[:1]),
    indirect=True,
)
CONSUMER_KIND = 5  # opentelemetry.proto.trace.v1.Span.SPAN_KIND_CONSUMER
REQUEST_ID = "otel-job-1"


@contextmanager
def worker(baked: Baked, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    port = free_port()
    python = baked.path / ".venv" / "bin" / "python"
    # A short lease: the queue depth is read every third of it.
    settings = {"WORKER_PORT": str(port), "JOB_LEASE_SECONDS": "3", "JOB_POLL_SECONDS": "1"}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(python), "-m", f"{module_of(baked)}.worker"],
            cwd=baked.path,
            env={**env, **settings},
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_answers(f"http://127.0.0.1:{port}/healthz", process, log, seconds=30)
        yield process
    finally:
        stop(process)


def create_item(base: str, token: str) -> int:
    bearer = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(  # noqa: S310 (loopback)
        f"{base}/items",
        data=json.dumps({"name": "traced"}).encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "traceparent": TRACEPARENT,
            "X-Request-ID": REQUEST_ID,
            **bearer,
        },
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        return int(answer.status)


def test_the_job_continues_the_request_trace_and_the_worker_exports_job_metrics(
    baked: Baked,
    migrated: dict[str, str],  # noqa: F811 - the imported fixture
    tmp_path: Path,
) -> None:
    token = dev_token(baked, migrated, "items:write") if has_auth(baked) else ""
    with otlp_receiver() as receiver:
        env = exporting(migrated, receiver)
        with (
            service(baked, env, "serve", tmp_path / "api.log") as api,
            worker(baked, env, tmp_path / "worker.log") as process,
        ):
            assert create_item(api.base, token) == 201

            def job_span() -> object:
                spans = receiver.spans()
                return next((s for s in spans if s.kind == CONSUMER_KIND), None)

            job = receiver.wait_for("the job's span", job_span)
            assert job.name == "job stamp_item"
            assert job.trace_id.hex() == CALLER_TRACE_ID
            post = receiver.wait_for(
                "POST /items server span",
                lambda: next(
                    (
                        s
                        for s in receiver.spans()
                        if s.kind == SERVER_KIND and s.name == "POST /items"
                    ),
                    None,
                ),
            )
            assert job.parent_span_id == post.span_id  # enqueued inside the request's span
            assert attributes(job.attributes)["job.task"] == "stamp_item"

            def metric(name: str) -> list:
                return [m for m in receiver.metrics() if m.name == name]

            durations = receiver.wait_for("job.duration", lambda: metric("job.duration"))
            outcomes = {
                attributes(point.attributes)["outcome"]
                for point in durations[-1].histogram.data_points
            }
            assert outcomes == {"done"}
            depth = receiver.wait_for("job.queue.depth", lambda: metric("job.queue.depth"))
            states = {
                attributes(point.attributes)["job.state"] for point in depth[-1].gauge.data_points
            }
            assert states == {"queued", "running", "failed"}
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    lines = [
        json.loads(line)
        for line in (tmp_path / "worker.log").read_text().splitlines()
        if line.startswith("{")
    ]
    job_lines = [line for line in lines if "job_id" in line]
    assert job_lines, lines
    assert all(line["request_id"] == REQUEST_ID for line in job_lines), job_lines
    assert all(line.get("trace_id") == CALLER_TRACE_ID for line in job_lines), job_lines
