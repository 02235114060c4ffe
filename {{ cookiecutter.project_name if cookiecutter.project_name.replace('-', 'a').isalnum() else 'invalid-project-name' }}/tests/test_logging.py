"""Request ids reach every log line of a request and the response; production logs are JSON."""

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from opentelemetry.sdk.trace import TracerProvider

from {{ cookiecutter.module_name }}.core.logging import (
    ACCESS_LOGGER,
    RequestIdFilter,
    configure_logging,
    request_id,
)

JsonLines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def json_lines(app: FastAPI) -> Iterator[JsonLines]:
    """Production's logging as `configure_logging` installs it for the app's settings (after the
    app's own call), its one handler writing to a buffer instead of stderr: the lines so far."""
    production = app.state.settings.model_copy(update={"environment": "production"})
    configure_logging(production.log_level, production.effective_log_format)
    [handler] = logging.getLogger().handlers
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    handler.setStream(buffer)
    try:
        yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    finally:
        configure_logging("INFO", "console")


async def test_a_well_formed_incoming_request_id_is_echoed(client: AsyncClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "abc-123.x"})
    assert response.headers["x-request-id"] == "abc-123.x"


@pytest.mark.parametrize(
    "incoming", ["", "a" * 129, "has space", "new\\nline", "<script>"], ids=repr
)
async def test_a_malformed_request_id_is_replaced(client: AsyncClient, incoming: str) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": incoming})
    generated = response.headers["x-request-id"]
    assert generated != incoming
    assert len(generated) == 32
    assert int(generated, 16) >= 0


async def test_a_request_id_is_made_when_none_is_sent(client: AsyncClient) -> None:
    first = await client.get("/healthz")
    second = await client.get("/healthz")
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_log_lines_of_a_request_carry_its_id(
    app: FastAPI, client: AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    @app.get("/log-something")
    async def log_something() -> None:
        logging.getLogger("probe").info("inside the request")

    caplog.handler.addFilter(RequestIdFilter())
    with caplog.at_level(logging.INFO, logger="probe"):
        await client.get("/log-something", headers={"X-Request-ID": "trace-me"})
        logging.getLogger("probe").info("outside any request")
    ids = {r.getMessage(): getattr(r, "request_id", None) for r in caplog.records}
    assert ids["inside the request"] == "trace-me"
    assert ids["outside any request"] == "-"
    assert request_id.get() is None


def test_json_lines_carry_the_request_id_and_extras(json_lines: JsonLines) -> None:
    token = request_id.set("rid-1")  # what the request-id middleware sets for a request
    try:
        logging.getLogger("app").info("hello %s", "you", extra={"order_id": 42})
    finally:
        request_id.reset(token)
    [line] = json_lines()
    assert line["message"] == "hello you"
    assert line["request_id"] == "rid-1"
    assert line["order_id"] == 42
    assert line["level"] == "INFO"


@pytest.mark.parametrize("uvicorn_access_log", [True, False])
def test_the_access_log_stays_as_uvicorn_was_told(uvicorn_access_log: bool) -> None:
    """uvicorn sets up its loggers before importing the app; `--no-access-log` must hold.
    The service's access line replaces uvicorn's, which is dropped either way."""
    access = logging.getLogger("uvicorn.access")
    saved = access.handlers[:], access.propagate, access.level
    try:
        # What uvicorn leaves: its own handler, or (access log off) none; never propagation.
        access.handlers = [logging.NullHandler()] if uvicorn_access_log else []
        access.propagate = False
        configure_logging("INFO", "console")
        assert access.handlers == []
        assert not access.isEnabledFor(logging.INFO)  # uvicorn's own access line is dropped
        assert logging.getLogger(ACCESS_LOGGER).isEnabledFor(logging.INFO) is uvicorn_access_log
        configure_logging("INFO", "console")  # a second app in the same process, as in tests
        assert logging.getLogger(ACCESS_LOGGER).isEnabledFor(logging.INFO) is uvicorn_access_log
    finally:
        access.handlers, access.propagate, access.level = saved
        configure_logging("INFO", "console")


async def test_the_access_line_has_its_fields_in_json(
    client: AsyncClient, json_lines: JsonLines
) -> None:
    await client.get("/no-such/thing", headers={"X-Request-ID": "access-1"})
    await client.get("/healthz", headers={"X-Request-ID": "access-2"})
    lines = json_lines()
    missing, healthz = (line for line in lines if line["logger"] == ACCESS_LOGGER)
    assert missing["status"] == 404
    assert missing["route"] is None
    assert healthz["method"] == "GET"
    assert healthz["route"] == healthz["path"] == "/healthz"
    assert healthz["status"] == 200
    assert healthz["request_id"] == "access-2"
    assert healthz["client"] == "127.0.0.1:123"
    assert 0 < healthz["duration_ms"] < 10_000
    assert "trace_id" not in healthz  # no span, no field


def test_json_lines_carry_the_trace_and_span_ids_while_a_span_is_active(
    json_lines: JsonLines,
) -> None:
    tracer = TracerProvider().get_tracer(__name__)
    with tracer.start_as_current_span("work") as span:
        logging.getLogger("app").info("traced")
    [line] = json_lines()
    assert line["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert line["span_id"] == format(span.get_span_context().span_id, "016x")
