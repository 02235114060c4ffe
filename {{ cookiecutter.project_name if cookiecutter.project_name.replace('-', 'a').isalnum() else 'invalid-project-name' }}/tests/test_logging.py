"""Request ids reach every log line of a request and the response; production logs are JSON."""

import json
import logging

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from opentelemetry.sdk.trace import TracerProvider

from {{ cookiecutter.module_name }}.core.logging import (
    ACCESS_LOGGER,
    JsonFormatter,
    RequestIdFilter,
    configure_logging,
    request_id,
)


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


def test_json_lines_carry_the_request_id_and_extras() -> None:
    record = logging.LogRecord("app", logging.INFO, __file__, 1, "hello %s", ("you",), None)
    record.request_id = "rid-1"
    record.order_id = 42
    line = json.loads(JsonFormatter().format(record))
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
    client: AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.handler.addFilter(RequestIdFilter())
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        await client.get("/no-such/thing", headers={"X-Request-ID": "access-1"})
        await client.get("/healthz", headers={"X-Request-ID": "access-2"})
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records]
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


def test_json_lines_carry_the_trace_and_span_ids_while_a_span_is_active() -> None:
    tracer = TracerProvider().get_tracer(__name__)
    record = logging.LogRecord("app", logging.INFO, __file__, 1, "traced", None, None)
    with tracer.start_as_current_span("work") as span:
        RequestIdFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert line["span_id"] == format(span.get_span_context().span_id, "016x")
